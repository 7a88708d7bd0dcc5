// Ids for responses and their parts ("msg_…", "toolu_…"): a prefix and 24
// random hex digits, unique in practice, from any thread.
#pragma once
#include <string>
#include <string_view>

namespace dsv3::server {

std::string random_id(std::string_view prefix);

}  // namespace dsv3::server
