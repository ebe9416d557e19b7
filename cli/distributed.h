// deitctl under torchrun or `deitctl launch`: one process of a data-parallel group, described by the
// environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).  Every rank runs the same command;
// rank 0 alone prints progress and writes files.
#pragma once

#include <deit/deit.h>

namespace deitctl {

// The group of this process: joined on the first call when WORLD_SIZE > 1 is set, NULL otherwise.
deit_group* process_group();
int process_local_rank();  // 0 without a group
bool is_root();            // rank 0, or no group

}  // namespace deitctl
