#include "server/http_exchange.h"

#include "server/json_dump.h"

namespace dsv3::server {

Response error_response(const ApiError& e, bool keep_alive, ErrorShape shape) {
  Response res =
      make_response(static_cast<http::status>(e.status), dump(error_body(e, shape)), "application/json", keep_alive);
  if (e.status == 401) res.set(http::field::www_authenticate, "Bearer");
  if (e.retry_after > 0) res.set(http::field::retry_after, std::to_string(e.retry_after));
  return res;
}

void Exchange::reply(Response res) {
  account.answered(res.result_int());
  session->reply(std::move(res));
}

void Exchange::reply(http::status status, std::string body, std::string content_type) {
  reply(make_response(status, std::move(body), std::move(content_type), req.keep_alive()));
}

void Exchange::reply_error(const ApiError& e) { reply(error_response(e, req.keep_alive(), errors)); }

}  // namespace dsv3::server
