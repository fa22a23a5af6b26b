#include "core/layout.h"

#include <posix_mp.h>

#include <cstddef>

namespace pmp {

// layout.STRUCT = { sizeof: sizeof(STRUCT), FIELD: offsetof(STRUCT, FIELD), ... }; layout.constants.NAME = NAME.
#define PMP_STRUCT(STRUCT) \
  Napi::Object STRUCT##_layout = Napi::Object::New(env); \
  STRUCT##_layout.Set("sizeof", Napi::Number::New(env, sizeof(STRUCT))); \
  layout.Set(#STRUCT, STRUCT##_layout)
#define PMP_FIELD(STRUCT, FIELD) STRUCT##_layout.Set(#FIELD, Napi::Number::New(env, offsetof(STRUCT, FIELD)))
#define PMP_CONSTANT(NAME) constants.Set(#NAME, Napi::Number::New(env, static_cast<double>(NAME)))

void InitLayout(Napi::Env env, Napi::Object exports) {
  Napi::Object layout = Napi::Object::New(env);

  PMP_STRUCT(pmp_header);
  PMP_FIELD(pmp_header, magic);
  PMP_FIELD(pmp_header, kind);
  PMP_FIELD(pmp_header, state);
  PMP_FIELD(pmp_header, version);
  PMP_FIELD(pmp_header, creator_pid);
  PMP_FIELD(pmp_header, payload_size);
  PMP_FIELD(pmp_header, param);

  PMP_STRUCT(pmp_lock);
  PMP_FIELD(pmp_lock, word);
  PMP_FIELD(pmp_lock, owner_thread);
  PMP_FIELD(pmp_lock, count);

  PMP_STRUCT(pmp_event);
  PMP_FIELD(pmp_event, flag);
  PMP_FIELD(pmp_event, reserved);

  PMP_STRUCT(pmp_condition);
  PMP_FIELD(pmp_condition, lock);
  PMP_FIELD(pmp_condition, state);
  PMP_FIELD(pmp_condition, epoch);
  PMP_FIELD(pmp_condition, lock_kind);
  PMP_FIELD(pmp_condition, lock_holder);
  PMP_FIELD(pmp_condition, lock_offset);
  PMP_FIELD(pmp_condition, lock_anonymous);
  PMP_FIELD(pmp_condition, lock_name_length);
  PMP_FIELD(pmp_condition, lock_name);
  pmp_condition_layout.Set("lock_name_bytes", Napi::Number::New(env, sizeof(pmp_condition::lock_name)));

  PMP_STRUCT(pmp_barrier);
  PMP_FIELD(pmp_barrier, lock);
  PMP_FIELD(pmp_barrier, cond_state);
  PMP_FIELD(pmp_barrier, cond_epoch);
  PMP_FIELD(pmp_barrier, state);
  PMP_FIELD(pmp_barrier, count);

  PMP_STRUCT(pmp_queue);
  PMP_FIELD(pmp_queue, put_lock);
  PMP_FIELD(pmp_queue, write);
  PMP_FIELD(pmp_queue, putters_waiting);
  PMP_FIELD(pmp_queue, passed);
  PMP_FIELD(pmp_queue, get_lock);
  PMP_FIELD(pmp_queue, read);
  PMP_FIELD(pmp_queue, getters_waiting);
  PMP_FIELD(pmp_queue, tasks_done);
  PMP_FIELD(pmp_queue, joiners_waiting);

  Napi::Object constants = Napi::Object::New(env);
  PMP_CONSTANT(PMP_MAGIC);
  PMP_CONSTANT(PMP_VERSION);
  PMP_CONSTANT(PMP_STATE_READY);
  PMP_CONSTANT(PMP_PAYLOAD_OFFSET);
  PMP_CONSTANT(PMP_DATA_OFFSET);
  PMP_CONSTANT(PMP_LOCK_WAITERS);
  PMP_CONSTANT(PMP_LIVENESS_MS);
  PMP_CONSTANT(PMP_KIND_LOCK);
  PMP_CONSTANT(PMP_KIND_RLOCK);
  PMP_CONSTANT(PMP_KIND_EVENT);
  PMP_CONSTANT(PMP_KIND_CONDITION);
  PMP_CONSTANT(PMP_KIND_BARRIER);
  PMP_CONSTANT(PMP_KIND_VALUE);
  PMP_CONSTANT(PMP_KIND_ARRAY);
  PMP_CONSTANT(PMP_KIND_QUEUE);
  PMP_CONSTANT(PMP_KIND_LIST);
  PMP_CONSTANT(PMP_KIND_DICT);
  PMP_CONSTANT(PMP_QUEUE_RING_OFFSET);
  PMP_CONSTANT(PMP_QUEUE_FRAME_HEADER);
  PMP_CONSTANT(PMP_QUEUE_STREAM);
  PMP_CONSTANT(PMP_QUEUE_FIRST);
  PMP_CONSTANT(PMP_QUEUE_LAST);
  PMP_CONSTANT(PMP_QUEUE_ABORT);
  PMP_CONSTANT(PMP_QUEUE_TAG_VALUE);
  PMP_CONSTANT(PMP_QUEUE_TAG_BYTES);
  PMP_CONSTANT(PMP_QUEUE_TAG_REDUCED);
  PMP_CONSTANT(PMP_QUEUE_TAG_NUMBER);
  PMP_CONSTANT(PMP_QUEUE_TAG_STRING);
  PMP_CONSTANT(PMP_QUEUE_TAG_PASSED);
  PMP_CONSTANT(PMP_QUEUE_TAG_PLAIN);
  PMP_CONSTANT(PMP_QUEUE_SLICE_MS);
  PMP_CONSTANT(PMP_QUEUE_LIVENESS_MS);
  layout.Set("constants", constants);

  exports.Set("layout", layout);
}

#undef PMP_STRUCT
#undef PMP_FIELD
#undef PMP_CONSTANT

}  // namespace pmp
