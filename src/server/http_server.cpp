#include "server/http_server.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <limits>

namespace dsv3::server {

namespace {
constexpr std::size_t kUncapped = std::numeric_limits<std::size_t>::max();
}  // namespace

void common_headers(http::fields& f) {
  f.set(http::field::server, "dsv3");
}

namespace {
// CORS only for the origins --allowed-origins lists; Vary keeps caches from mixing answers.
void cors_headers(http::fields& f, const std::string& origin) {
  if (origin.empty()) return;
  f.set(http::field::access_control_allow_origin, origin);
  if (origin != "*") f.set(http::field::vary, "Origin");
}
}  // namespace

Response make_response(http::status status, std::string body, std::string content_type, bool keep_alive) {
  Response res{status, 11};
  common_headers(res.base());
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

Response HttpHandler::rejected(http::status status, std::string_view reason, std::string_view) {
  return make_response(status, std::string(reason), "text/plain", false);
}

HttpSession::HttpSession(tcp::socket&& socket, HttpHandler& handler, const HttpOptions& options,
                         std::optional<ConnectionLimits::Ticket> ticket)
    : stream_(std::move(socket)),
      handler_(handler),
      options_(options),
      ticket_(std::move(ticket)),
      probe_timer_(stream_.get_executor()) {
  beast::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  remote_ = ec ? "unknown" : ep.address().to_string();
  handler_.connection(+1);
}

HttpSession::~HttpSession() { handler_.connection(-1); }

template <class F>
void HttpSession::on_strand(F&& f) {
  net::dispatch(stream_.get_executor(), [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(); });
}

void HttpSession::start() {
  on_strand([this] {
    if (!ticket_) return reject({http::status::service_unavailable, "too many connections; try again later"});
    read_request();
  });
}

void HttpSession::read_request() {
  if (closed_) return;
  in_exchange_ = streaming_ = ending_ = false;
  on_gone_ = nullptr;
  reset_parser(parser_, options_);
  header_bytes_ = 0;
  // a pipelined request has begun already; otherwise the connection is idle until a byte comes
  stream_.expires_after(buffer_.size() ? options_.request_timeout : options_.idle_timeout);
  read_header_part();
}

// The header is read piece by piece rather than with async_read_header (see header_limit_left).
void HttpSession::read_header_part() {
  parser_->header_limit(header_limit_left(options_, header_bytes_));
  http::async_read_some(stream_, buffer_, *parser_,
                        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_header_part(ec, n); });
}

void HttpSession::on_header_part(beast::error_code ec, std::size_t n) {
  if (read_failed(ec)) return;
  // the request's first bytes: from now on its whole header and body get
  // request_timeout, not reset by each byte that trickles in
  if (header_bytes_ == 0 && n > 0) stream_.expires_after(options_.request_timeout);
  header_bytes_ += n;
  if (auto r = check_header_part(*parser_, header_bytes_, options_)) return reject(*r);
  if (!parser_->is_header_done()) return read_header_part();
  on_header();
}

bool HttpSession::read_failed(beast::error_code ec) {
  if (!ec) return false;
  if (auto r = rejection_for(ec)) {
    reject(*r);
  } else {
    close();  // closed, reset, timed out, or cut off mid-request
  }
  return true;
}

void HttpSession::on_header() {
  if (auto r = check_header(*parser_, options_)) return reject(*r);
  if (wants_continue(*parser_)) {
    // curl asks before sending a large body; say yes rather than make it wait a second
    auto cont = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
    return net::async_write(stream_, net::buffer(*cont), [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->read_body();
    });
  }
  read_body();
}

void HttpSession::read_body() {
  buffer_.max_size(body_buffer_cap(buffer_.size(), options_));
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void HttpSession::on_read(beast::error_code ec) {
  buffer_.max_size(kUncapped);
  if (read_failed(ec)) return;
  stream_.expires_never();
  Request req = parser_->release();
  keep_alive_ = req.keep_alive();
  http11_ = req.version() >= 11;
  probes_ = 0;
  cors_origin_ = options_.origins.cors(req[http::field::origin]);
  in_exchange_ = true;
  // an upgrade hands the socket over, so no read may be left pending on it
  if (!beast::websocket::is_upgrade(req)) watch();
  handler_.handle(std::move(req), shared_from_this());
}

void HttpSession::reject(Rejection r) {
  // the request line, once read, picks the error's shape (a body too large is
  // refused as its Content-Length is read, before the header is whole)
  std::string_view target;
  if (parser_) target = parser_->get().target();
  Response res = handler_.rejected(r.status, r.reason, target);
  // the rest of the stream cannot be trusted: answer and close
  keep_alive_ = false;
  in_exchange_ = true;
  stream_.expires_after(std::chrono::seconds(5));
  res.keep_alive(false);
  res.prepare_payload();
  outbox_ = fmt::format("{}", fmt::streamed(res));
  ending_ = true;
  flush();
}

void HttpSession::watch() {
  if (watching_ || closed_ || buffer_.size() > options_.max_body_bytes) return;
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->on_watch(ec, n);
  });
}

void HttpSession::on_watch(beast::error_code ec, std::size_t n) {
  watching_ = false;
  if (lingering_) return ec ? close() : drain();
  if (!ec) {
    buffer_.commit(n);  // a pipelined request: kept for the next read
    if (!in_exchange_) return read_request();
    return watch();
  }
  if (ec == net::error::operation_aborted) {
    if (!in_exchange_ && !closed_) read_request();  // cancelled because the exchange ended
    return;
  }
  if (ec == net::error::eof && in_exchange_) {
    // An end of stream is all both a half-closed client and one that left
    // show; the answer still goes out, and a write to a client that left
    // fails (it answers with a reset), which marks it gone.
    read_closed_ = true;
    if (on_gone_ && !streaming_) probe();  // a generation, with nothing written for a while
    return;
  }
  mark_gone();  // EOF or reset: the client went away
  if (!in_exchange_) close();
}

// A generation's client half-closed or left: two interim 100 responses, a
// moment apart, tell which (clients skip 1xx before the final answer). A
// client that left resets the connection on the first, so the second fails
// and marks it gone; its job is cancelled. A stream's chunks do the same.
void HttpSession::probe() {
  if (!in_exchange_ || streaming_ || ending_ || closed_ || gone_.load() || probes_ >= 2) return;
  if (!http11_) return mark_gone();  // no 1xx for HTTP/1.0: take it as gone
  ++probes_;
  outbox_ += "HTTP/1.1 100 Continue\r\n\r\n";
  flush();
  probe_timer_.expires_after(std::chrono::milliseconds(250));
  probe_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->probe();
  });
}

void HttpSession::mark_gone() {
  if (gone_.exchange(true)) return;
  if (auto f = std::move(on_gone_)) {
    on_gone_ = nullptr;
    f();
  }
}

void HttpSession::on_gone(std::function<void()> f) {
  on_strand([this, f = std::move(f)]() mutable {
    if (gone_.load()) return f();
    on_gone_ = std::move(f);
  });
}

void HttpSession::reply(Response res) {
  on_strand([this, res = std::move(res)]() mutable {
    if (!in_exchange_ || streaming_ || ending_) return;
    res.keep_alive(keep_alive_ && res.keep_alive());
    keep_alive_ = res.keep_alive();
    cors_headers(res.base(), cors_origin_);
    res.prepare_payload();
    std::string head = fmt::format("{}", fmt::streamed(res.base()));
    outbox_ += head;
    outbox_ += res.body();
    ending_ = true;
    flush();
  });
}

void HttpSession::stream_begin(http::status status, std::string content_type) {
  on_strand([this, status, ct = std::move(content_type)] {
    if (!in_exchange_ || streaming_ || ending_) return;
    streaming_ = true;
    http::response<http::empty_body> res{status, 11};
    common_headers(res.base());
    cors_headers(res.base(), cors_origin_);
    res.set(http::field::content_type, ct);
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Accel-Buffering", "no");  // proxies: do not hold back the stream
    res.chunked(true);
    res.keep_alive(keep_alive_);
    outbox_ += fmt::format("{}", fmt::streamed(res.base()));
    flush();
  });
}

void HttpSession::stream_write(std::string data) {
  if (data.empty()) return;  // an empty chunk would end the body
  on_strand([this, data = std::move(data)] {
    if (!streaming_ || ending_ || gone_.load()) return;
    outbox_ += fmt::format("{:x}\r\n", data.size());
    outbox_ += data;
    outbox_ += "\r\n";
    flush();
  });
}

void HttpSession::stream_end() {
  on_strand([this] {
    if (!streaming_ || ending_) return;
    outbox_ += "0\r\n\r\n";
    ending_ = true;
    flush();
  });
}

void HttpSession::flush() {
  if (writing_ || closed_) return;
  if (outbox_.empty()) {
    if (ending_) end_exchange();
    return;
  }
  if (gone_.load()) {
    outbox_.clear();
    if (ending_) end_exchange();
    return;
  }
  writing_ = true;
  inflight_.swap(outbox_);
  outbox_.clear();
  net::async_write(stream_, net::buffer(inflight_),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_written(ec); });
}

void HttpSession::on_written(beast::error_code ec) {
  writing_ = false;
  inflight_.clear();
  if (ec) {
    mark_gone();
    outbox_.clear();
    if (ending_) end_exchange();
    return;
  }
  flush();
}

void HttpSession::end_exchange() {
  in_exchange_ = streaming_ = ending_ = false;
  on_gone_ = nullptr;
  if (gone_.load()) return close();
  if (!keep_alive_ || read_closed_) return linger_close();
  // the watcher is the only read in flight; cancelling it hands over to the next request read
  if (watching_) {
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
    return;
  }
  read_request();
}

void HttpSession::close() {
  if (closed_ || taken_) return;
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.socket().close(ignored);
}

// Closing with a request's bytes unread makes the kernel send a reset, which
// can destroy the answer before the client reads it; so the sending side is
// shut first and what the client still sends is read and dropped.
void HttpSession::linger_close() {
  if (closed_ || taken_ || lingering_) return;
  lingering_ = true;
  buffer_.max_size(kUncapped);  // drain() reads whole blocks into it
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(2));
  if (!watching_) drain();  // else the watcher's read goes on draining
}

void HttpSession::drain() {
  buffer_.consume(buffer_.size());
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->watching_ = false;
    if (ec) return self->close();
    self->drain();
  });
}

beast::tcp_stream HttpSession::take_stream() {
  taken_ = true;
  in_exchange_ = false;
  if (watching_) {
    // the watcher holds the socket; cancel it (its handler sees taken_ and stops)
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
  }
  closed_ = true;
  return std::move(stream_);
}

HttpServer::HttpServer(net::io_context& ioc, HttpHandler& handler, HttpOptions options)
    : ioc_(ioc),
      handler_(handler),
      options_(options),
      acceptor_(net::make_strand(ioc)),
      backoff_(acceptor_.get_executor()),
      limits_(options.max_connections, options.max_connections_per_client) {}

Result<uint16_t> HttpServer::listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) return make_error("--host {}: {}", host, ec ? ec.message() : "no address");
  const tcp::endpoint ep = results.begin()->endpoint();
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return make_error("cannot listen on {}:{}: {}", host, port, ec.message());
  const uint16_t bound = acceptor_.local_endpoint(ec).port();
  accept();
  return bound;
}

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // out of descriptors (EMFILE, ENFILE) or the like: the connection stays
      // in the backlog, so trying again at once would spin; wait for some to close
      backoff_.expires_after(std::chrono::milliseconds(100));
      backoff_.async_wait([this](beast::error_code e) {
        if (!e && acceptor_.is_open()) accept();
      });
      return;
    }
    beast::error_code ignored;
    const auto ep = socket.remote_endpoint(ignored);
    auto ticket = limits_.admit(ignored ? std::string("unknown") : ep.address().to_string());
    std::make_shared<HttpSession>(std::move(socket), handler_, options_, std::move(ticket))->start();
    accept();
  });
}

void HttpServer::stop_accepting() {
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    backoff_.cancel();
  });
}

}  // namespace dsv3::server
