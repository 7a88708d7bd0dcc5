// WebSocket transport (Beast): accepts an upgraded connection, reads text
// messages one at a time and hands them to a callback, and sends messages
// queued from any thread in order. A message past max_message_bytes closes
// the connection with 1009, more than messages_per_minute with 1008.
#pragma once
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "server/http_server.h"

namespace dsv3::server {

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  struct Callbacks {
    std::function<void(std::string message)> on_message;  // on the session's strand
    std::function<void()> on_close;                       // once, when the connection ends
  };
  struct Limits {
    uint64_t max_message_bytes = 1 << 20;
    uint32_t messages_per_minute = 0;  // 0: unlimited
  };
  WsSession(beast::tcp_stream&& stream, Limits limits);
  ~WsSession();
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  // Completes the handshake for req, then reads messages.
  void accept(Request req, Callbacks callbacks);
  // Thread-safe; dropped once the connection has ended.
  void send(std::string text);
  bool gone() const { return gone_.load(std::memory_order_relaxed); }

 private:
  void read();
  bool over_rate();  // counts a message; true past messages_per_minute
  void flush();
  void end();

  beast::websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Callbacks callbacks_;
  Limits limits_;
  std::deque<std::chrono::steady_clock::time_point> recent_;  // message times within the last minute
  std::deque<std::string> queue_;  // strand only; front() is being written
  bool open_ = false;
  std::atomic<bool> gone_{false};
};

}  // namespace dsv3::server
