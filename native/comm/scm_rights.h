// Descriptors given as a JS argument, for a socket message (rights_message.h).
#pragma once

#include <napi.h>

#include <vector>

#include "comm/rights_message.h"

namespace pmp {

// The descriptors in `array`, a JS array of numbers; more than kMaxFdsPerMessage is an ArgTypeError whose
// message is `too_many`.
std::vector<int> FdsFromArray(Napi::Env env, Napi::Array array, const char* too_many);

}  // namespace pmp
