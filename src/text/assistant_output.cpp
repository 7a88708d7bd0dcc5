// A state machine over the generated text. Every decision depends only on
// the bytes, never on where feed() split them, so that a stream and
// parse_assistant_output() agree; parse_assistant_output() is the same
// machine fed the whole text. Choices where the models leave room:
//  - "<think>" opens reasoning only at the start (after optional whitespace);
//    an unterminated reasoning block is reasoning at the end (as vLLM);
//    the whitespace right after "</think>" is dropped.
//  - whitespace between calls, and between calls-begin and the first call, is dropped.
//  - a call whose head (type word, separator, name) is malformed, too long or
//    cut off gives its begin marker back as content, and the text after it
//    is read again as content; a later begin marker still opens a call.
//  - a call whose name was sent but which never reaches its end marker:
//    parse_assistant_output() makes its whole text content; a stream sends
//    the part not yet sent as arguments as content in finish().
#include "text/assistant_output.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "text/utf8.h"

namespace dsv3::text {

namespace {
constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSep = "<｜tool▁sep｜>";
constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kFence = "```";
// A call's head (type word, separator, name) longer than this is not a call:
// it would hold the stream back for nothing.
constexpr std::size_t kMaxHead = 512;
constexpr std::size_t kLongestMarker = 32;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::size_t rtrim_end(std::string_view s, std::size_t end) {
  while (end > 0 && is_space(s[end - 1])) --end;
  return end;
}

bool is_proper_prefix(std::string_view s, std::string_view marker) {
  return s.size() < marker.size() && marker.substr(0, s.size()) == s;
}

// Where the longest suffix of s that begins one of the markers starts (s.size() if none).
std::size_t partial_marker_start(std::string_view s, std::initializer_list<std::string_view> markers) {
  const std::size_t from = s.size() > kLongestMarker ? s.size() - kLongestMarker : 0;
  for (std::size_t p = from; p < s.size(); ++p) {
    if (s[p] != '<') continue;  // every marker starts with '<'
    for (auto m : markers)
      if (is_proper_prefix(s.substr(p), m)) return p;
  }
  return s.size();
}

struct Found {
  std::size_t pos = std::string_view::npos;
  std::string_view marker;
};
Found find_first(std::string_view s, std::initializer_list<std::string_view> markers) {
  Found f;
  for (auto m : markers) {
    const std::size_t p = s.find(m);
    if (p < f.pos) f = {p, m};
  }
  return f;
}

// Backs end off a UTF-8 sequence it would cut, so deltas stay whole characters.
std::size_t utf8_safe_end(std::string_view s, std::size_t end) {
  for (std::size_t i = end > 3 ? end - 3 : 0; i < end; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0xC0) continue;  // not a lead byte
    bool partial = false;
    if (utf8_sequence_length(s.substr(0, end), i, &partial) == 0 && partial) return i;
  }
  return end;
}

// The arguments in raw: trimmed, and, when fenced, without the closing fence.
std::pair<std::size_t, std::size_t> final_arguments(std::string_view raw, bool fenced) {
  std::size_t b = 0;
  while (b < raw.size() && is_space(raw[b])) ++b;
  std::size_t e = std::max(b, rtrim_end(raw, raw.size()));
  if (fenced && e - b >= kFence.size() && raw.substr(e - kFence.size(), kFence.size()) == kFence)
    e = std::max(b, rtrim_end(raw, e - kFence.size()));
  return {b, e};
}

// How much of raw is surely part of the final arguments whatever follows:
// trailing whitespace, and a fence that may yet close them, wait.
std::size_t settled_arguments_end(std::string_view raw, bool fenced) {
  std::size_t e = rtrim_end(raw, raw.size());
  if (!fenced) return e;
  std::size_t ticks = 0;
  while (ticks < e && ticks < kFence.size() && raw[e - 1 - ticks] == '`') ++ticks;
  if (ticks == kFence.size() || (ticks > 0 && e == raw.size())) return rtrim_end(raw, e - ticks);
  return e;
}

bool is_valid_name(std::string_view name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), is_space);
}

bool is_fence_language_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Adds a tool-call delta, merging it into the last one of the same call.
void add_call_delta(OutputDelta& out, int index, std::string_view name, std::string_view arguments) {
  if (!out.tool_calls.empty() && out.tool_calls.back().index == index && name.empty()) {
    out.tool_calls.back().arguments.append(arguments);
    return;
  }
  out.tool_calls.push_back({index, std::string(name), std::string(arguments)});
}

void append(OutputDelta& to, OutputDelta&& from) {
  to.reasoning += from.reasoning;
  to.content += from.content;
  for (auto& d : from.tool_calls) add_call_delta(to, d.index, d.name, d.arguments);
}
}  // namespace

AssistantOutputParser::AssistantOutputParser(OutputFormat format)
    : format_(format),
      state_(!format.reasoning             ? State::kContent
             : format.starts_in_reasoning ? State::kReasoning
                                          : State::kThinkStart) {}

int AssistantOutputParser::complete_tool_calls() const { return calls_complete_; }

void AssistantOutputParser::consume(std::size_t n) {
  if (state_ == State::kCallHead || in_call()) call_raw_.append(pending_, 0, n);
  pending_.erase(0, n);
}

OutputDelta AssistantOutputParser::feed(std::string_view text) {
  pending_.append(text);
  OutputDelta out;
  run(out, false);
  return out;
}

OutputDelta AssistantOutputParser::finish() {
  OutputDelta out;
  run(out, true);
  if (in_call()) {  // never closed: what was not sent as arguments is content
    out.content += args_raw_.substr(std::min(args_sent_, args_raw_.size()));
    out.content += pending_;
    pending_.clear();
    call_raw_.clear();
    args_raw_.clear();
    state_ = State::kContent;
  }
  return out;
}

void AssistantOutputParser::run(OutputDelta& out, bool at_end) {
  while (step(out, at_end)) {
  }
}

void AssistantOutputParser::malformed_call(OutputDelta& out) {
  out.content += kCallBegin;  // the rest of call_raw_ is still in pending_: read it again as content
  pending_.insert(0, call_raw_.substr(kCallBegin.size()));
  call_raw_.clear();
  state_ = State::kContent;
}

void AssistantOutputParser::send_arguments(OutputDelta& out, std::string_view piece) {
  if (!piece.empty()) add_call_delta(out, calls_named_ - 1, "", piece);
}

bool AssistantOutputParser::step(OutputDelta& out, bool at_end) {
  const std::string_view buf = pending_;
  switch (state_) {
    case State::kThinkStart: {
      std::size_t i = 0;
      while (i < buf.size() && is_space(buf[i])) ++i;
      const std::string_view rest = buf.substr(i);
      if (rest.substr(0, kThinkOpen.size()) == kThinkOpen) {
        consume(i + kThinkOpen.size());
        state_ = State::kReasoning;
        return true;
      }
      if (is_proper_prefix(rest, kThinkOpen) && !at_end) return false;
      state_ = State::kContent;  // no reasoning: the text, spaces and all, is the answer
      return true;
    }
    case State::kReasoning: {
      const std::size_t p = buf.find(kThinkClose);
      if (p != std::string_view::npos) {
        out.reasoning.append(buf.substr(0, p));
        consume(p + kThinkClose.size());
        state_ = State::kAfterThink;
        return true;
      }
      const std::size_t keep = at_end ? buf.size() : utf8_safe_end(buf, partial_marker_start(buf, {kThinkClose}));
      out.reasoning.append(buf.substr(0, keep));
      consume(keep);
      return false;
    }
    case State::kAfterThink: {
      std::size_t i = 0;
      while (i < buf.size() && is_space(buf[i])) ++i;
      consume(i);
      if (pending_.empty()) return false;
      state_ = State::kContent;
      return true;
    }
    case State::kContent: {
      if (format_.tools != ToolCallFormat::kNone) {
        const Found f = find_first(buf, {kCallsBegin, kCallBegin});
        if (f.pos != std::string_view::npos) {
          out.content.append(buf.substr(0, f.pos));
          consume(f.pos + f.marker.size());
          if (f.marker == kCallsBegin) {
            state_ = State::kBetweenCalls;
          } else {
            call_raw_ = kCallBegin;
            state_ = State::kCallHead;
          }
          return true;
        }
      }
      std::size_t keep = buf.size();
      if (!at_end) {
        if (format_.tools != ToolCallFormat::kNone) keep = partial_marker_start(buf, {kCallsBegin, kCallBegin});
        keep = utf8_safe_end(buf, keep);
      }
      out.content.append(buf.substr(0, keep));
      consume(keep);
      return false;
    }
    case State::kBetweenCalls: {
      std::size_t i = 0;
      while (i < buf.size() && is_space(buf[i])) ++i;
      consume(i);
      const std::string_view rest = pending_;
      if (rest.starts_with(kCallBegin)) {
        consume(kCallBegin.size());
        call_raw_ = kCallBegin;
        state_ = State::kCallHead;
        return true;
      }
      if (rest.starts_with(kCallsEnd)) {
        consume(kCallsEnd.size());
        state_ = State::kContent;
        return true;
      }
      if ((is_proper_prefix(rest, kCallBegin) || is_proper_prefix(rest, kCallsEnd)) && !at_end) return false;
      if (rest.empty()) return false;
      state_ = State::kContent;  // anything else ends the calls
      return true;
    }
    case State::kCallHead:
      return step_call_head(out, at_end);
    case State::kFenceOpen: {
      std::size_t i = 0;
      while (i < buf.size() && is_space(buf[i])) ++i;
      consume(i);
      const std::string_view rest = pending_;
      if (rest.starts_with(kFence)) {
        std::size_t j = kFence.size();
        while (j < rest.size() && is_fence_language_char(rest[j])) ++j;  // "json", or none
        if (j == rest.size() && !at_end) return false;
        consume(j);
        fenced_ = true;
      } else if ((rest.empty() || is_proper_prefix(rest, kFence)) && !at_end) {
        return false;
      }
      state_ = State::kArguments;
      return true;
    }
    case State::kArguments: {
      const std::size_t p = buf.find(kCallEnd);
      if (p != std::string_view::npos) {
        args_raw_.append(buf.substr(0, p));
        consume(p + kCallEnd.size());
        const auto [b, e] = final_arguments(args_raw_, fenced_);
        const std::size_t from = std::max(b, args_sent_);
        if (from < e) send_arguments(out, std::string_view(args_raw_).substr(from, e - from));
        ++calls_complete_;
        call_raw_.clear();
        args_raw_.clear();
        args_sent_ = 0;
        fenced_ = false;
        state_ = State::kBetweenCalls;
        return true;
      }
      if (at_end) return false;  // finish() turns what is left into content
      const std::size_t keep = partial_marker_start(buf, {kCallEnd});
      args_raw_.append(buf.substr(0, keep));
      consume(keep);
      const std::string_view raw = args_raw_;
      std::size_t b = 0;
      while (b < raw.size() && is_space(raw[b])) ++b;
      const std::size_t e = utf8_safe_end(raw, settled_arguments_end(raw, fenced_));
      const std::size_t from = std::max(b, args_sent_);
      if (from < e) {
        send_arguments(out, raw.substr(from, e - from));
        args_sent_ = e;
      }
      return false;
    }
  }
  return false;
}

// After a call's begin marker: [type word] <｜tool▁sep｜> name, then (V3) a
// newline or the opening fence. The name is sent as soon as it is whole.
bool AssistantOutputParser::step_call_head(OutputDelta& out, bool at_end) {
  const std::string_view buf = pending_;
  const Found sep = find_first(buf, {kSep, kCallsBegin, kCallsEnd, kCallBegin, kCallEnd});
  if (sep.pos == std::string_view::npos) {
    if (!at_end && buf.size() <= kMaxHead + kLongestMarker) return false;  // the separator may yet come
    malformed_call(out);
    return true;
  }
  if (sep.marker != kSep || sep.pos > kMaxHead) {
    malformed_call(out);
    return true;
  }
  const std::size_t after_sep = sep.pos + kSep.size();
  if (format_.tools == ToolCallFormat::kDeepSeekV31) {
    const std::string_view name = trim(buf.substr(0, sep.pos));
    if (!is_valid_name(name)) {
      malformed_call(out);
      return true;
    }
    add_call_delta(out, calls_named_++, name, "");
    consume(after_sep);
    state_ = State::kArguments;
    return true;
  }
  // V3: the type word before the separator ("function") may be any text.
  const std::string_view rest = buf.substr(after_sep);
  const std::size_t newline = rest.find('\n');
  const std::size_t fence = rest.find(kFence);
  const Found marker = find_first(rest, {kSep, kCallsBegin, kCallsEnd, kCallBegin, kCallEnd});
  const std::size_t end = std::min({newline, fence, marker.pos});
  if (end == std::string_view::npos) {
    if (!at_end && rest.size() <= kMaxHead + kLongestMarker) return false;  // the name may go on
    malformed_call(out);
    return true;
  }
  const std::string_view name = trim(rest.substr(0, end));
  if (end == marker.pos || after_sep + end > kMaxHead || !is_valid_name(name)) {
    malformed_call(out);
    return true;
  }
  add_call_delta(out, calls_named_++, name, "");
  consume(after_sep + end);
  state_ = State::kFenceOpen;
  return true;
}

AssistantOutput parse_assistant_output(std::string_view text, OutputFormat format) {
  AssistantOutputParser parser(format);
  OutputDelta all = parser.feed(text);
  if (parser.in_call()) {  // never closed: the whole call is content, not a call
    std::erase_if(all.tool_calls, [&](const ToolCallDelta& d) { return d.index == parser.calls_named_ - 1; });
    all.content += parser.call_raw_;
    all.content += parser.pending_;
  } else {
    append(all, parser.finish());
  }
  AssistantOutput r;
  r.reasoning = std::move(all.reasoning);
  r.content = std::move(all.content);
  for (auto& d : all.tool_calls) {
    if (static_cast<std::size_t>(d.index) >= r.tool_calls.size()) r.tool_calls.resize(d.index + 1);
    auto& call = r.tool_calls[d.index];
    if (!d.name.empty()) call.name = d.name;
    call.arguments += d.arguments;
  }
  return r;
}

ToolCallFormat tool_format_of_template(std::string_view template_source) {
  if (template_source.find("tool▁call▁begin") == std::string_view::npos) return ToolCallFormat::kNone;
  if (template_source.find("```json") != std::string_view::npos) return ToolCallFormat::kDeepSeekV3;
  return ToolCallFormat::kDeepSeekV31;
}

bool prompt_opens_reasoning(std::string_view rendered_prompt) {
  const std::size_t assistant = rendered_prompt.rfind("<｜Assistant｜>");
  if (assistant == std::string_view::npos) return false;
  const std::size_t think = rendered_prompt.rfind(kThinkOpen);
  if (think == std::string_view::npos || think < assistant) return false;
  return rendered_prompt.find(kThinkClose, think) == std::string_view::npos;
}

}  // namespace dsv3::text
