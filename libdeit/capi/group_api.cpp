// deit_group_*: data-parallel process groups (dist/group.h) for the C API.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "capi/caller_struct.h"
#include "capi/group_handle.h"
#include "capi/guard.h"
#include "capi/option_defaults.h"

using deit::capi::guard;
using deit::capi::require_arg;
using deit::capi::reset_out;

using namespace deit;

namespace {

// An integer environment variable: false when unset, DEIT_E_INVALID_ARG when malformed or out of range.
bool env_int(const char* name, int64_t lo, int64_t hi, int32_t* out) {
  const char* v = std::getenv(name);
  if (!v) return false;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
    invalid_arg(std::string("environment variable ") + name + "='" + v + "' is not an integer in [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  *out = static_cast<int32_t>(x);
  return true;
}

dist::GroupSettings settings_from(const deit_group_options* o) {
  dist::GroupSettings s;
  s.rank = o->rank;
  s.world_size = o->world_size;
  s.local_rank = o->local_rank;
  s.master_addr = o->master_addr ? o->master_addr : "127.0.0.1";
  s.master_port = o->master_port;
  s.backend = o->backend ? o->backend : "auto";
  s.timeout_seconds = o->timeout_seconds;
  return s;
}

}  // namespace

extern "C" {

DEIT_API deit_status deit_group_options_init_sized(deit_group_options* o, size_t size) {
  return guard(__func__,
               [&] { capi::init_caller_struct(o, size, capi::option_defaults<deit_group_options>(), "options"); });
}

DEIT_API deit_status deit_group_options_from_env(deit_group_options* options) {
  return guard(__func__, [&] {
    deit_group_options in = capi::read_caller_struct(options, capi::option_defaults<deit_group_options>(), "options");
    deit_group_options* o = &in;
    int32_t world = 1;
    if (!env_int("WORLD_SIZE", 1, 1 << 20, &world)) return;  // one process: the options stay as they are
    int32_t rank = 0;
    if (!env_int("RANK", 0, world - 1, &rank))
      invalid_arg("WORLD_SIZE is set but RANK is not (launch with torchrun or `deitctl launch`)");
    int32_t local_rank = rank;
    env_int("LOCAL_RANK", 0, 1 << 20, &local_rank);
    int32_t port = o->master_port;
    env_int("MASTER_PORT", 1, 65535, &port);
    const char* addr = std::getenv("MASTER_ADDR");
    require(addr == nullptr || *addr != '\0', "environment variable MASTER_ADDR is empty");
    if (const char* t = std::getenv("DEIT_DIST_TIMEOUT")) {
      char* end = nullptr;
      const double seconds = std::strtod(t, &end);
      require(end != t && *end == '\0' && seconds > 0,
              std::string("environment variable DEIT_DIST_TIMEOUT='") + t + "' is not a positive number of seconds");
      o->timeout_seconds = seconds;
    }
    o->world_size = world;
    o->rank = rank;
    o->local_rank = local_rank;
    o->master_port = port;
    if (addr) o->master_addr = addr;
    capi::write_caller_struct(options, in, "options");
  });
}

DEIT_API deit_status deit_group_create(const deit_group_options* options, deit_group** out) {
  return guard(__func__, [&] {
    reset_out(out);
    const deit_group_options o =
        capi::read_caller_struct(options, capi::option_defaults<deit_group_options>(), "options");
    auto h = std::make_unique<deit_group>();
    h->group = std::make_unique<dist::Group>(settings_from(&o));
    *out = h.release();
  });
}

DEIT_API void deit_group_free(deit_group* group) { delete group; }

DEIT_API deit_status deit_group_rank(const deit_group* group, int32_t* rank, int32_t* world_size) {
  return guard(__func__, [&] {
    require_arg(group, "group");
    if (rank) *rank = group->group->rank();
    if (world_size) *world_size = group->group->size();
  });
}

DEIT_API deit_status deit_group_barrier(deit_group* group) {
  return guard(__func__, [&] {
    require_arg(group, "group");
    group->group->barrier("barrier");
  });
}

DEIT_API int deit_group_backend_available(const char* backend) {
  try {
    return backend && dist::backend_available(backend) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

}  // extern "C"
