// Command conventional is baseline (1) as a whole Fluent Bit Go output
// plugin: every chunk is decoded with fluent-bit-go's output.NewDecoder and
// output.GetRecord into generic maps and the rule's fields are looked up
// (encoding/json for a raw line under "log"); no detection runs after that.
// Run under the C host on the same chunks as the real plugin. Built by
// test/bench/run.sh with -buildmode=c-shared.
package main

import (
	"C"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/bench/conventional"
)

var events uint64

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	return output.FLBPluginRegister(def, "bench_conventional", "fluent-bit-go decoder + map lookups (baseline)")
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) int {
	output.FLBPluginSetContext(plugin, "conventional")
	return output.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) int {
	if data == nil || length <= 0 {
		return output.FLB_OK
	}
	c := conventional.Decode(data, int(length))
	events += uint64(c.Events)
	return output.FLB_OK
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) int { return output.FLB_OK }

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) { output.FLBPluginUnregister(def) }

func main() {}
