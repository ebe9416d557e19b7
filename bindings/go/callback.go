package deit

// #include <stdint.h>
// #include <deit/deit.h>
import "C"

import (
	"fmt"
	"os"
	"runtime/cgo"
)

// progressState is what a progress cgo.Handle refers to while one training
// call runs: the user's function and what it did.
type progressState struct {
	fn     ProgressFunc
	err    error       // the error the callback returned to cancel
	panicV interface{} // a panic from the callback, re-raised after the C call
}

//export deitGoProgress
func deitGoProgress(p *C.deit_progress, h C.uintptr_t) (stop C.int) {
	st := cgo.Handle(h).Value().(*progressState)
	if st.err != nil || st.panicV != nil {
		return 1
	}
	// A panic must not unwind through libdeit's C++ frames: keep it, cancel the
	// call, and re-panic once the call has returned.
	defer func() {
		if r := recover(); r != nil {
			st.panicV = r
			stop = 1
		}
	}()
	if err := st.fn(progressFromC(p)); err != nil {
		st.err = err
		return 1
	}
	return 0
}

//export deitGoLog
func deitGoLog(level C.deit_log_level, msg *C.char, h C.uintptr_t) {
	fn := cgo.Handle(h).Value().(LogFunc)
	defer func() {
		// Nothing can be cancelled from a log line; a panic here is reported and dropped.
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "deit: log callback panicked: %v\n", r)
		}
	}()
	fn(LogLevel(level), C.GoString(msg))
}
