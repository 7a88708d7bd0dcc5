// One HTTP request being answered: the request, the session that answers it,
// and what the answer counts for. Replies go out through here so that each is
// counted once, and errors take the API's shape and headers in one place.
#pragma once
#include <memory>
#include <string>

#include "server/api_error.h"
#include "server/http_server.h"
#include "server/request_account.h"

namespace dsv3::server {

// An error as an HTTP response, with the headers its status calls for
// (WWW-Authenticate on a 401, Retry-After on a 429).
Response error_response(const ApiError& e, bool keep_alive, ErrorShape shape = ErrorShape::kOpenAI);

struct Exchange {
  std::shared_ptr<HttpSession> session;
  Request req;
  RequestAccount account;
  std::string path_param;  // what the route's "{id}" matched
  ErrorShape errors = ErrorShape::kOpenAI;  // the route's API's, for reply_error

  // Counted with the response's status, then sent.
  void reply(Response res);
  void reply(http::status status, std::string body, std::string content_type = "application/json");
  void reply_error(const ApiError& e);
};

}  // namespace dsv3::server
