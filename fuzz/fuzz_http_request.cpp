// Bytes from a client, read as the server's HTTP session reads them: Beast's
// request parser under the same limits and rules (server/http_request_rules.h),
// the header piece by piece, the body under a capped buffer, then any
// pipelined requests after it. A request that parses goes on to what needs no
// model: the upgrade and keep-alive checks, the API-key check, and for the
// OpenAI endpoints the request parser. The first byte picks how many bytes
// each read delivers (network packets) and whether the limits are the
// server's defaults or small ones the fuzzer can reach within -max_len.
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <limits>
#include <optional>
#include <string_view>

#include "fuzz_main.h"
#include "served_model.h"
#include "server/auth.h"
#include "server/http_request_rules.h"
#include "server/http_server.h"

namespace {
namespace beast = boost::beast;
namespace http = beast::http;
using namespace dsv3::server;

const ApiKeys& keys() {
  static const ApiKeys k = [] {
    auto made = ApiKeys::make({"sk-fuzz"}, "");
    if (!made.ok()) std::abort();
    return std::move(made).value();
  }();
  return k;
}

// What the session does with a request it has read whole (short of a model).
void handle(const Request& req) {
  (void)beast::websocket::is_upgrade(req);
  (void)req.keep_alive();
  (void)keys().check(req[http::field::authorization]);
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  if (req.method() != http::verb::post) return;
  if (target == "/v1/chat/completions")
    (void)parse_request(Endpoint::kChat, req.body(), dsv3::fuzz::served().info);
  else if (target == "/v1/completions")
    (void)parse_request(Endpoint::kCompletion, req.body(), dsv3::fuzz::served().info);
}

// One request, as HttpSession::read_request .. on_read take it; false when
// the connection ends (a rejection answered, or the bytes ran out).
bool read_one(beast::test::stream& in, beast::flat_buffer& buffer, const HttpOptions& options) {
  std::optional<RequestParser> parser;
  reset_parser(parser, options);
  uint64_t header_bytes = 0;
  beast::error_code ec;
  do {
    parser->header_limit(header_limit_left(options, header_bytes));
    const std::size_t n = http::read_some(in, buffer, *parser, ec);
    if (ec) {
      (void)rejection_for(ec);
      return false;
    }
    header_bytes += n;
    if (check_header_part(*parser, header_bytes, options)) return false;
  } while (!parser->is_header_done());
  if (check_header(*parser, options)) return false;
  (void)wants_continue(*parser);
  buffer.max_size(body_buffer_cap(buffer.size(), options));
  http::read(in, buffer, *parser, ec);
  buffer.max_size(std::numeric_limits<std::size_t>::max());
  if (ec) {
    (void)rejection_for(ec);
    return false;
  }
  Request req = parser->release();
  handle(req);
  return req.keep_alive() && !beast::websocket::is_upgrade(req);
}

HttpOptions small_limits() {
  HttpOptions o;
  o.max_body_bytes = 1024;
  o.max_header_bytes = 512;
  o.max_header_fields = 8;
  o.max_trailer_bytes = 128;
  return o;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static boost::asio::io_context ioc;
  const HttpOptions options = data[0] & 0x80 ? small_limits() : HttpOptions{};
  const std::size_t read_size = data[0] & 0x40 ? 1 + (data[0] & 0x3f) : 4096;
  beast::test::stream in(ioc, dsv3::fuzz::as_text(data + 1, size - 1));
  in.read_size(read_size);
  in.close_remote();  // the client stops sending after its bytes
  beast::flat_buffer buffer;
  for (int i = 0; i < 16 && read_one(in, buffer, options); ++i) {
  }
  return 0;
}
