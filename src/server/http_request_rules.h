// The limits an HTTP request is read under, and the rules that turn a broken
// one into an answer (400, 413, 431). Pure decisions over Beast's parser: the
// session applies them between its asynchronous reads, and the http_request
// fuzz target applies the same ones to bytes read synchronously.
#pragma once
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "server/origins.h"

namespace dsv3::server {

namespace http = boost::beast::http;

struct HttpOptions {
  uint64_t max_body_bytes = 1 << 20;
  uint32_t max_header_bytes = 16 * 1024;   // start line and fields together (431 beyond)
  uint32_t max_header_fields = 100;        // 431 beyond
  uint32_t max_trailer_bytes = 16 * 1024;  // chunk-size lines and trailers of a chunked body (431 beyond)
  // A request must arrive whole within request_timeout of its first byte (a
  // client trickling bytes gets no more); a connection waits idle_timeout for
  // one to begin. Either past: the connection is closed.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  std::size_t max_connections = 1024;          // 0: unlimited; beyond: 503 and closed
  std::size_t max_connections_per_client = 64;  // per remote address; 0: unlimited
  AllowedOrigins origins;                 // who gets a CORS header (none by default)
};

using RequestParser = http::request_parser<http::string_body>;

// Why a request is refused: the status and a sentence for the client.
struct Rejection {
  http::status status;
  const char* reason;
};

// A fresh parser for the next request, with the body limit set.
void reset_parser(std::optional<RequestParser>& parser, const HttpOptions& options);

// Header bytes a read may still parse, given those read so far. Beast applies
// its header_limit to each read's unparsed rest, not to the whole header, so
// the session reads the header piece by piece and sets this before each.
uint32_t header_limit_left(const HttpOptions& options, uint64_t header_bytes);

// After a header read of header_bytes in all: too large or too many fields.
std::optional<Rejection> check_header_part(const RequestParser& parser, uint64_t header_bytes, const HttpOptions& options);

// Once the header is whole: framing we refuse, or an Expect: 100-continue
// whose announced body is already too large.
std::optional<Rejection> check_header(const RequestParser& parser, const HttpOptions& options);

// Whether the client waits for "100 Continue" before sending its body.
bool wants_continue(const RequestParser& parser);

// The read buffer's cap while the body is read: Beast holds a chunk-size line
// or the trailers unparsed until they end, with no limit of its own, so a cap
// on the buffer bounds them (buffer_overflow). Body bytes are parsed as they
// come, so they never fill it.
std::size_t body_buffer_cap(std::size_t buffered, const HttpOptions& options);

// A read error as an answer; nullopt for errors that only close the
// connection (closed, reset, timed out, cut off mid-request). ec must be set.
std::optional<Rejection> rejection_for(boost::beast::error_code ec);

}  // namespace dsv3::server
