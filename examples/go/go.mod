module libdeit/examples/go

go 1.19

require libdeit/deit v0.0.0

// The binding from this repository; libdeit itself comes from `pkg-config deit`.
replace libdeit/deit => ../../bindings/go
