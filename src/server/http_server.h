// HTTP/1.1 transport on Boost.Beast: an acceptor, and a session per
// connection that reads requests (keep-alive, pipelining, header and body
// limits, a read timeout) and writes either whole responses or a chunked
// stream fed from any thread. While a request is being answered the session
// keeps reading, so a client that goes away is noticed at once. It knows no
// API: what a request means, and how an error reads, is the handler's.
#pragma once
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "server/connection_limits.h"
#include "server/http_request_rules.h"

namespace dsv3::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

class HttpSession;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Runs on the session's strand. The handler ends the exchange later or at
  // once: session->reply(), a stream ended by stream_end(), or take_stream().
  virtual void handle(Request&& req, const std::shared_ptr<HttpSession>& session) = 0;
  // A request that could not be read whole (status 400, 413 or 431, reason a
  // sentence): the answer to write before the connection closes. The default
  // is the reason as plain text; an API answers in its own error format.
  // target: the request's, when its request line was read; else empty.
  virtual Response rejected(http::status status, std::string_view reason, std::string_view target);
  virtual void connection(int delta) {}  // +1 opened, -1 closed
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // No ticket: past a connection cap, the session answers 503 and closes.
  HttpSession(tcp::socket&& socket, HttpHandler& handler, const HttpOptions& options,
              std::optional<ConnectionLimits::Ticket> ticket);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;
  void start();

  // These may be called from any thread; they run on the session's strand
  // (at once when called on it), in the order called.
  void reply(Response res);
  // Starts a chunked response; stream_write sends data, stream_end finishes it.
  void stream_begin(http::status status, std::string content_type);
  void stream_write(std::string data);
  void stream_end();
  // f runs once on the strand if the client goes away before the exchange
  // ends (at once if it already has).
  void on_gone(std::function<void()> f);
  bool gone() const { return gone_.load(std::memory_order_relaxed); }

  // For an upgrade (WebSocket), called from handle(): the connection leaves this session.
  beast::tcp_stream take_stream();
  // With take_stream: the connection's place under the caps, to hold while it lives.
  std::optional<ConnectionLimits::Ticket> take_ticket() { return std::move(ticket_); }
  const std::string& remote_address() const { return remote_; }
  // The current request's Access-Control-Allow-Origin value; empty: none (strand only).
  const std::string& cors_origin() const { return cors_origin_; }

 private:
  void read_request();
  void read_header_part();
  void on_header_part(beast::error_code ec, std::size_t n);
  void on_header();
  void read_body();
  void on_read(beast::error_code ec);
  bool read_failed(beast::error_code ec);  // answers or closes on an error
  void reject(Rejection r);  // answers through the handler, then closes
  void watch();
  void on_watch(beast::error_code ec, std::size_t n);
  void probe();  // after a half-close: is the client still there?
  void flush();
  void on_written(beast::error_code ec);
  void end_exchange();
  void mark_gone();
  void close();
  void linger_close();  // after a last answer: half-close, read what is left, then close
  void drain();
  template <class F>
  void on_strand(F&& f);

  beast::tcp_stream stream_;
  HttpHandler& handler_;
  HttpOptions options_;
  std::string remote_;
  std::optional<ConnectionLimits::Ticket> ticket_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  uint64_t header_bytes_ = 0;  // of the request being read

  // exchange state (strand only)
  bool keep_alive_ = true, in_exchange_ = false, streaming_ = false, ending_ = false;
  bool writing_ = false, watching_ = false, closed_ = false, taken_ = false;
  bool read_closed_ = false;  // the client half-closed: answer, then close
  bool lingering_ = false;    // answered for the last time; reading what is left before closing
  bool http11_ = true;        // the current request's version allows 1xx answers
  int probes_ = 0;            // of the current exchange
  net::steady_timer probe_timer_;
  std::string outbox_, inflight_;
  std::string cors_origin_;
  std::function<void()> on_gone_;
  std::atomic<bool> gone_{false};
};

class HttpServer {
 public:
  HttpServer(net::io_context& ioc, HttpHandler& handler, HttpOptions options);
  // Binds host:port (port 0: any free port) and starts accepting; returns the bound port.
  Result<uint16_t> listen(const std::string& host, uint16_t port);
  void stop_accepting();  // thread-safe

 private:
  void accept();
  net::io_context& ioc_;
  HttpHandler& handler_;
  HttpOptions options_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;  // waits out a failed accept (out of descriptors)
  ConnectionLimits limits_;
};

// The headers every response carries (the server's name).
void common_headers(http::fields& f);
Response make_response(http::status status, std::string body, std::string content_type, bool keep_alive);

}  // namespace dsv3::server
