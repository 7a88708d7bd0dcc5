// Bytes from a WebSocket client after the handshake on /ws: Beast's frame
// reader in the server role, set up as server/websocket.cpp sets it (the
// message size cap), then each whole message through the chat protocol's
// message parser (server/websocket_message.h) and, for a chat request, the
// OpenAI request parser with the bundled model behind it.
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdlib>
#include <variant>

#include "fuzz_main.h"
#include "served_model.h"
#include "server/http_request_rules.h"
#include "server/websocket_message.h"

namespace {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using namespace dsv3::server;

// The upgrade request the session has already read when it hands over.
http::request<http::string_body> upgrade_request() {
  http::request<http::string_body> req{http::verb::get, "/ws", 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, "13");
  return req;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static boost::asio::io_context ioc;
  beast::test::stream client(ioc);  // takes the server's writes (101, pongs, close)
  websocket::stream<beast::test::stream> ws(ioc);
  ws.next_layer().connect(client);
  ws.read_message_max(HttpOptions{}.max_body_bytes);  // serve_websocket_chat: the body limit
  beast::error_code ec;
  ws.accept(upgrade_request(), ec);
  if (ec) std::abort();
  ws.next_layer().append(dsv3::fuzz::as_text(data, size));
  ws.next_layer().close_remote();  // the client stops sending after its bytes
  beast::flat_buffer buffer;
  while (true) {
    ws.read(buffer, ec);
    if (ec) break;
    const std::string text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    WsMessage m = parse_ws_message(text, kDefaultMaxJsonDepth);
    if (auto* chat = std::get_if<WsChat>(&m))
      (void)parse_request_json(Endpoint::kChat, chat->body, dsv3::fuzz::served().info);
  }
  return 0;
}
