#include "cli/line_input.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#ifdef DSV3_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

namespace dsv3::cli {

namespace {
std::atomic<bool> g_typing_interrupted{false};
extern "C" void on_typing_sigint(int) { g_typing_interrupted.store(true); }
}  // namespace

LineInput::LineInput(bool terminal) : terminal_(terminal) {
#ifdef DSV3_HAVE_LIBEDIT
  if (terminal_) {
    editing_ = true;
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
      history_file_ = std::string(home) + "/.dsv3_history";
      read_history(history_file_.c_str());
    }
  }
#endif
}

LineInput::~LineInput() {
#ifdef DSV3_HAVE_LIBEDIT
  if (editing_ && !history_file_.empty()) write_history(history_file_.c_str());
#endif
}

LineInput::Got LineInput::read(const char* prompt, std::string& line) {
  // Ctrl-C while typing: the read returns early (no SA_RESTART) and says so
  g_typing_interrupted.store(false);
  struct sigaction sa {}, old {};
  sa.sa_handler = on_typing_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  Got got = Got::kLine;
#ifdef DSV3_HAVE_LIBEDIT
  if (editing_) {
    char* text = readline(prompt);
    if (text == nullptr) {
      got = g_typing_interrupted.load() ? Got::kInterrupted : Got::kEnd;
    } else {
      line = text;
      if (!line.empty()) add_history(text);
      std::free(text);  // NOLINT: readline's buffer is malloc'd
    }
    sigaction(SIGINT, &old, nullptr);
    return g_typing_interrupted.load() && got == Got::kLine ? Got::kInterrupted : got;
  }
#endif
  if (terminal_) {
    std::fputs(prompt, stderr);
    std::fflush(stderr);
  }
  if (!std::getline(std::cin, line)) {
    got = g_typing_interrupted.load() ? Got::kInterrupted : Got::kEnd;
    if (got == Got::kInterrupted) {  // the read was cut short, not the input: read on
      std::cin.clear();
      std::clearerr(stdin);
    }
  }
  sigaction(SIGINT, &old, nullptr);
  return got;
}

}  // namespace dsv3::cli
