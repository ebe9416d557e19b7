#include "distributed.h"

#include <memory>

#include "common.h"

namespace deitctl {

namespace {

struct GroupHolder {
  bool joined = false;
  int rank = 0, local_rank = 0;
  std::unique_ptr<deit_group, void (*)(deit_group*)> group{nullptr, deit_group_free};
};

GroupHolder& holder() {
  static GroupHolder h;
  if (!h.joined) {
    h.joined = true;
    deit_group_options o;
    check(deit_group_options_init(&o));
    check(deit_group_options_from_env(&o));
    if (o.world_size > 1) {
      deit_group* raw = nullptr;
      check(deit_group_create(&o, &raw));
      h.group.reset(raw);
      h.rank = o.rank;
      h.local_rank = o.local_rank;
    }
  }
  return h;
}

}  // namespace

deit_group* process_group() { return holder().group.get(); }
int process_local_rank() { return holder().local_rank; }
bool is_root() { return holder().rank == 0; }

}  // namespace deitctl
