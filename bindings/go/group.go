package deit

// #include <stdlib.h>
// #include <deit/deit.h>
import "C"

import (
	"runtime"
	"unsafe"
)

// GroupOptions describe one rank of a data-parallel group (docs/DISTRIBUTED.md);
// start from DefaultGroupOptions or GroupOptionsFromEnv.
type GroupOptions struct {
	Rank           int
	WorldSize      int
	LocalRank      int    // rank on this machine (for choosing cuda:N)
	MasterAddr     string // host of rank 0's rendezvous store
	MasterPort     int
	Backend        string // "" or "auto" (NCCL with CUDA, else Gloo), "gloo", "nccl"
	TimeoutSeconds float64
}

func groupOptionsFromC(o *C.deit_group_options) GroupOptions {
	g := GroupOptions{Rank: int(o.rank), WorldSize: int(o.world_size), LocalRank: int(o.local_rank),
		MasterPort: int(o.master_port), TimeoutSeconds: float64(o.timeout_seconds)}
	if o.master_addr != nil {
		g.MasterAddr = C.GoString(o.master_addr)
	}
	if o.backend != nil {
		g.Backend = C.GoString(o.backend)
	}
	return g
}

// DefaultGroupOptions describe one process (world size 1).
func DefaultGroupOptions() GroupOptions {
	var o C.deit_group_options
	C.deit_group_options_init_sized(&o, C.size_t(unsafe.Sizeof(o))) // cannot fail on a valid pointer
	return groupOptionsFromC(&o)
}

// GroupOptionsFromEnv reads torchrun's environment (RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT, DEIT_DIST_TIMEOUT); without
// WORLD_SIZE they describe one process.
func GroupOptionsFromEnv() (GroupOptions, error) {
	var o C.deit_group_options
	C.deit_group_options_init_sized(&o, C.size_t(unsafe.Sizeof(o)))
	if err := call("deit_group_options_from_env", func() C.deit_status {
		return C.deit_group_options_from_env(&o)
	}); err != nil {
		return GroupOptions{}, err
	}
	return groupOptionsFromC(&o), nil
}

// Group is this process's place in a data-parallel training: set it in the
// training options of every rank, which all make the same calls.
type Group struct {
	p *C.deit_group
}

// NewGroup joins the group; it returns when all WorldSize ranks have joined.
func NewGroup(options GroupOptions) (*Group, error) {
	var o C.deit_group_options
	C.deit_group_options_init_sized(&o, C.size_t(unsafe.Sizeof(o)))
	o.rank, o.world_size, o.local_rank = C.int32_t(options.Rank), C.int32_t(options.WorldSize), C.int32_t(options.LocalRank)
	o.master_addr = cString(options.MasterAddr)
	defer C.free(unsafe.Pointer(o.master_addr))
	o.backend = cString(options.Backend)
	defer C.free(unsafe.Pointer(o.backend))
	o.master_port, o.timeout_seconds = C.int32_t(options.MasterPort), C.double(options.TimeoutSeconds)
	var p *C.deit_group
	if err := call("deit_group_create", func() C.deit_status { return C.deit_group_create(&o, &p) }); err != nil {
		return nil, err
	}
	g := &Group{p: p}
	runtime.SetFinalizer(g, (*Group).Close)
	return g, nil
}

// Close leaves the group; it is safe to call more than once.
func (g *Group) Close() error {
	if g != nil && g.p != nil {
		C.deit_group_free(g.p)
		g.p = nil
		runtime.SetFinalizer(g, nil)
	}
	return nil
}

func (g *Group) ptr(op string) (*C.deit_group, error) {
	if g == nil || g.p == nil {
		return nil, closedError(op, "group")
	}
	return g.p, nil
}

// optional is the C pointer of an optional group (nil: this process alone).
func (g *Group) optional(op string) (*C.deit_group, error) {
	if g == nil {
		return nil, nil
	}
	return g.ptr(op)
}

// Rank returns this process's rank and the world size.
func (g *Group) Rank() (rank, worldSize int, err error) {
	const op = "deit_group_rank"
	p, err := g.ptr(op)
	if err != nil {
		return 0, 0, err
	}
	var r, w C.int32_t
	err = call(op, func() C.deit_status { return C.deit_group_rank(p, &r, &w) })
	runtime.KeepAlive(g)
	return int(r), int(w), err
}

// Barrier waits until every rank has called it.
func (g *Group) Barrier() error {
	const op = "deit_group_barrier"
	p, err := g.ptr(op)
	if err != nil {
		return err
	}
	err = call(op, func() C.deit_status { return C.deit_group_barrier(p) })
	runtime.KeepAlive(g)
	return err
}

// GroupBackendAvailable says whether this build forms multi-process groups
// with backend ("gloo", "nccl").
func GroupBackendAvailable(backend string) bool {
	cb := C.CString(backend)
	defer C.free(unsafe.Pointer(cb))
	return C.deit_group_backend_available(cb) != 0
}

// StateOptions make a training crash-safe (docs/API.md): with Path, a
// resumable state is written there atomically at the end of every epoch (and
// every EverySteps steps); Resume continues from it when it exists.
type StateOptions struct {
	Path       string
	EverySteps int
	Resume     bool
}
