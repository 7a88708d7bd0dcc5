// GPT-2's byte-level alphabet: every byte is shown as a printable Unicode
// character so that BPE vocabularies can be stored as text.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsv3::text {

// UTF-8 of the character that stands for byte b.
const std::string& byte_to_symbol(uint8_t b);
// The byte a code point stands for, if it is one of the 256 symbols.
std::optional<uint8_t> symbol_to_byte(uint32_t code_point);

// Maps raw bytes to their symbol string ("hi there" -> "hiĠthere").
std::string bytes_to_symbols(std::string_view bytes);
// The inverse when every character is a symbol; nullopt otherwise.
std::optional<std::string> symbols_to_bytes(std::string_view symbols);

// Decodes one code point from valid UTF-8 at s[i], advancing i.
uint32_t next_code_point(std::string_view s, std::size_t& i);

}  // namespace dsv3::text
