// Command null is a Fluent Bit Go output plugin that does nothing with the
// chunks it is given: run under the C host on the same chunks as the real
// plugin, it measures the host's and cgo's share of a flush (the chunk copy
// the host makes, the coroutine stack, the cgo call) and the resident
// memory of a Go plugin that keeps nothing. Built by test/bench/run.sh with
// -buildmode=c-shared.
package main

import (
	"C"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
)

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	return output.FLBPluginRegister(def, "bench_null", "does nothing (benchmark floor)")
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) int {
	output.FLBPluginSetContext(plugin, "null")
	return output.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) int {
	return output.FLB_OK
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) int { return output.FLB_OK }

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) { output.FLBPluginUnregister(def) }

func main() {}
