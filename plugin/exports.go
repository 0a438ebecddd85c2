// Command out_k8s_secret_enum is the Fluent Bit output plugin, built with
// -buildmode=c-shared. This file is the whole cgo boundary: each export
// recovers panics, finds its instance and calls one method.
package main

import (
	"C"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

const (
	pluginName        = "k8s_secret_enum"
	pluginDescription = "Detects Kubernetes secret enumeration in audit logs and sends alerts over HTTP"
)

// bootLog reports what happens before an instance has its own logger.
var bootLog = logging.New(os.Stderr, logging.Info, "")

// guard turns a panic into a logged stack and a failure code: a panic
// that crossed into Fluent Bit would take down every pipeline it runs.
func guard(where string, rc *int, failure int) {
	if r := recover(); r != nil {
		bootLog.Errorf("panic in %s: %v\n%s", where, r, debug.Stack())
		*rc = failure
	}
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (rc int) {
	rc = -1
	defer guard("FLBPluginRegister", &rc, -1)
	newConfiguration()
	return output.FLBPluginRegister(def, pluginName, pluginDescription)
}

// FLBPluginInit is called once per [OUTPUT] section (and again after a hot
// reload): everything it creates belongs to the new instance.
//
//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (rc int) {
	defer guard("FLBPluginInit", &rc, output.FLB_ERROR)
	in, err := newInstance(propertyGetter{plugin}, os.Stderr)
	if err != nil {
		return output.FLB_ERROR
	}
	output.FLBPluginSetContext(plugin, in)
	return output.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) (rc int) {
	defer guard("FLBPluginFlushCtx", &rc, output.FLB_ERROR)
	in, ok := output.FLBPluginGetContext(ctx).(*instance)
	if !ok {
		bootLog.Errorf("flush for an unknown instance: the chunk is dropped")
		return output.FLB_ERROR
	}
	if data == nil || length <= 0 {
		return output.FLB_OK
	}
	// A view, not a copy: the chunk is only read during this call.
	return in.flush(unsafe.Slice((*byte)(data), int(length)))
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (rc int) {
	defer guard("FLBPluginExitCtx", &rc, output.FLB_ERROR)
	if in, ok := output.FLBPluginGetContext(ctx).(*instance); ok {
		in.exit()
	}
	return output.FLB_OK
}

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	rc := 0
	defer guard("FLBPluginUnregister", &rc, 0)
	output.FLBPluginUnregister(def)
}

// propertyGetter reads the instance's properties through Fluent Bit's API.
type propertyGetter struct{ plugin unsafe.Pointer }

func (p propertyGetter) Get(key string) string { return output.FLBPluginConfigKey(p.plugin, key) }

func main() {}
