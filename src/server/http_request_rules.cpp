#include "server/http_request_rules.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <iterator>

namespace dsv3::server {

void reset_parser(std::optional<RequestParser>& parser, const HttpOptions& options) {
  parser.emplace();
  parser->body_limit(options.max_body_bytes);
}

uint32_t header_limit_left(const HttpOptions& options, uint64_t header_bytes) {
  return static_cast<uint32_t>(options.max_header_bytes - header_bytes);
}

std::optional<Rejection> check_header_part(const RequestParser& parser, uint64_t header_bytes, const HttpOptions& options) {
  const auto& fields = parser.get().base();
  if (header_bytes >= options.max_header_bytes && !parser.is_header_done())
    return Rejection{http::status::request_header_fields_too_large, "the request headers are too large"};
  if (static_cast<std::size_t>(std::distance(fields.begin(), fields.end())) > options.max_header_fields)
    return Rejection{http::status::request_header_fields_too_large, "the request has too many header fields"};
  return std::nullopt;
}

std::optional<Rejection> check_header(const RequestParser& parser, const HttpOptions& options) {
  const auto& h = parser.get();
  // RFC 9112 6.3: a body framed by a coding other than chunked has no knowable
  // length; its bytes must not be read as the next request
  if (h.find(http::field::transfer_encoding) != h.end() && !parser.chunked())
    return Rejection{http::status::bad_request, "Transfer-Encoding other than chunked is not supported"};
  if (wants_continue(parser) && parser.content_length() && *parser.content_length() > options.max_body_bytes)
    return Rejection{http::status::payload_too_large, "the request body is too large"};
  return std::nullopt;
}

bool wants_continue(const RequestParser& parser) {
  return boost::beast::iequals(parser.get()[http::field::expect], "100-continue") && !parser.is_done();
}

std::size_t body_buffer_cap(std::size_t buffered, const HttpOptions& options) {
  return std::max<std::size_t>(buffered, options.max_trailer_bytes) + 1;
}

std::optional<Rejection> rejection_for(boost::beast::error_code ec) {
  if (ec == http::error::body_limit) return Rejection{http::status::payload_too_large, "the request body is too large"};
  if (ec == http::error::buffer_overflow)
    return Rejection{http::status::request_header_fields_too_large,
                     "the chunked body's trailers (or a chunk line) are too large"};
  if (ec == http::error::header_limit)
    return Rejection{http::status::request_header_fields_too_large, "the request headers are too large"};
  if (ec.category() == boost::beast::error_code(http::error::bad_method).category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message)
    return Rejection{http::status::bad_request, "malformed HTTP request"};
  return std::nullopt;
}

}  // namespace dsv3::server
