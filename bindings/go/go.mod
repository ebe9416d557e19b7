module libdeit/deit

go 1.19
