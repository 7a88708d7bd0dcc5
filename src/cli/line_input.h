// The lines typed at `dsv3 chat`: on a terminal with line editing and a
// history kept across sessions (libedit, where the build found it); from a
// pipe or file, plain lines. Ctrl-C while typing is reported, not fatal.
#pragma once
#include <string>

namespace dsv3::cli {

class LineInput {
 public:
  explicit LineInput(bool terminal);
  ~LineInput();
  LineInput(const LineInput&) = delete;
  LineInput& operator=(const LineInput&) = delete;

  enum class Got { kLine, kInterrupted, kEnd };
  // One line (without its newline) after showing `prompt` (terminals only).
  Got read(const char* prompt, std::string& line);
  // Whether lines are edited (a terminal and libedit).
  bool editing() const { return editing_; }

 private:
  bool terminal_, editing_ = false;
  std::string history_file_;
};

}  // namespace dsv3::cli
