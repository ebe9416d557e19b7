// deitctl under torchrun or `deitctl launch`: one process of a data-parallel group, described by the
// environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).  Every rank runs the same command;
// rank 0 alone prints progress and writes files.
#pragma once

#include <deit/deit.h>

#include <string>

namespace deitctl {

// The group of this process: joined on the first call when WORLD_SIZE > 1 is set, NULL otherwise.
deit_group* process_group();
int process_rank();  // 0 without a group
int process_local_rank();
bool is_root();
// "" without a group, else "rank R of W: " (a prefix for this rank's error messages).
std::string rank_prefix();

}  // namespace deitctl
