// How far apart two words are: insertions, deletions, substitutions and
// swaps of adjacent characters (Damerau-Levenshtein, optimal string
// alignment). For "did you mean" hints.
#pragma once
#include <string>

namespace dsv3 {

int edit_distance(const std::string& a, const std::string& b);

}  // namespace dsv3
