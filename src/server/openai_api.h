// The OpenAI wire format in one include: requests parsed into engine Jobs,
// responses built from their events, errors, and JSON as it is sent.
#pragma once
#include "server/api_error.h"
#include "server/json_dump.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
