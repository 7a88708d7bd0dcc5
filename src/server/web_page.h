// The chat page (web/chat.html), embedded in the binary at build time.
#pragma once
#include <string_view>

namespace dsv3::server {
std::string_view chat_page();
}
