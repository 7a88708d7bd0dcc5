#include "server/websocket.h"

namespace dsv3::server {

namespace websocket = beast::websocket;

WsSession::WsSession(beast::tcp_stream&& stream, Limits limits) : ws_(std::move(stream)), limits_(limits) {
  // Beast fails a longer message itself, closing with 1009 (message too big)
  ws_.read_message_max(limits.max_message_bytes);
}

WsSession::~WsSession() = default;

void WsSession::accept(Request req, Callbacks callbacks) {
  callbacks_ = std::move(callbacks);
  beast::get_lowest_layer(ws_).expires_never();  // the websocket stream keeps its own timeouts
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "dsv3"); }));
  ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
    if (ec) return self->end();
    self->open_ = true;
    self->read();
    self->flush();
  });
}

void WsSession::read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->end();
    std::string text = beast::buffers_to_string(self->buffer_.data());
    self->buffer_.consume(self->buffer_.size());
    if (self->over_rate()) {
      self->open_ = false;  // nothing more is sent but the close (Beast waits out a write in flight)
      self->ws_.async_close({websocket::close_code::policy_error, "too many messages per minute"},
                            [self](beast::error_code) { self->end(); });
      return;
    }
    if (self->callbacks_.on_message) self->callbacks_.on_message(std::move(text));
    self->read();
  });
}

bool WsSession::over_rate() {
  if (limits_.messages_per_minute == 0) return false;
  const auto now = std::chrono::steady_clock::now();
  while (!recent_.empty() && now - recent_.front() >= std::chrono::minutes(1)) recent_.pop_front();
  if (recent_.size() >= limits_.messages_per_minute) return true;
  recent_.push_back(now);
  return false;
}

void WsSession::send(std::string text) {
  net::dispatch(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
    if (self->gone()) return;
    self->queue_.push_back(std::move(text));
    if (self->queue_.size() == 1) self->flush();
  });
}

void WsSession::flush() {
  if (!open_ || queue_.empty() || gone()) return;
  ws_.text(true);
  ws_.async_write(net::buffer(queue_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec || self->gone()) return self->end();  // the queue stays until destruction: a write may hold its front
    self->queue_.pop_front();
    self->flush();
  });
}

void WsSession::end() {
  if (gone_.exchange(true)) return;
  if (auto f = std::move(callbacks_.on_close)) {
    callbacks_.on_close = nullptr;
    f();
  }
  callbacks_.on_message = nullptr;  // drops what the callbacks hold (they may hold this session)
}

}  // namespace dsv3::server
