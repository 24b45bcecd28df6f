#include "terminal.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace sop_telemetry::cli {

namespace {

bool colour_on = false;

struct Glyph {
    std::size_t bytes;
    std::size_t width;  ///< terminal columns
};

template <std::size_t N>
bool in_ranges(char32_t cp, const char32_t (&ranges)[N][2]) {
    for (const auto& range : ranges)
        if (cp >= range[0] && cp <= range[1]) return true;
    return false;
}

/// Whether `cp` takes no column of its own: combining marks (they sit on the character before),
/// zero-width spaces and joiners, variation selectors.
bool zero_width(char32_t cp) {
    static constexpr char32_t kNone[][2] = {
        {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A}, {0x064B, 0x065F},
        {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x2060, 0x2064}, {0x20D0, 0x20FF},
        {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF}};
    return in_ranges(cp, kNone);
}

/// Whether `cp` takes two columns: East Asian wide and fullwidth characters (CJK, Hangul,
/// fullwidth forms) and the symbols shown as emoji by default.
bool double_width(char32_t cp) {
    static constexpr char32_t kWide[][2] = {
        {0x1100, 0x115F}, {0x231A, 0x231B}, {0x23E9, 0x23EC}, {0x23F0, 0x23F0}, {0x23F3, 0x23F3},
        {0x25FD, 0x25FE}, {0x2614, 0x2615}, {0x2648, 0x2653}, {0x267F, 0x267F}, {0x2693, 0x2693},
        {0x26A1, 0x26A1}, {0x26AA, 0x26AB}, {0x26BD, 0x26BE}, {0x26C4, 0x26C5}, {0x26CE, 0x26CE},
        {0x26D4, 0x26D4}, {0x26EA, 0x26EA}, {0x26F2, 0x26F3}, {0x26F5, 0x26F5}, {0x26FA, 0x26FA},
        {0x26FD, 0x26FD}, {0x2705, 0x2705}, {0x270A, 0x270B}, {0x2728, 0x2728}, {0x274C, 0x274C},
        {0x274E, 0x274E}, {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2795, 0x2797}, {0x27B0, 0x27B0},
        {0x27BF, 0x27BF}, {0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x2E80, 0xA4CF},
        {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE30, 0xFE4F}, {0xFF00, 0xFF60}, {0xFFE0, 0xFFE6},
        {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A},
        {0x1F200, 0x1F2FF}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB},
        {0x1F90C, 0x1F9FF}, {0x1FA70, 0x1FAFF}, {0x20000, 0x3FFFD}};
    return in_ranges(cp, kWide);
}

/// The UTF-8 character at `i`: its length, and the terminal columns it takes (0, 1 or 2).
Glyph glyph_at(const std::string& text, std::size_t i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const std::size_t bytes = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4;
    if (bytes == 1 || i + bytes > text.size()) return {std::min(bytes, text.size() - i), 1};
    char32_t cp = byte & (bytes == 2 ? 0x1F : bytes == 3 ? 0x0F : 0x07);
    for (std::size_t k = 1; k < bytes; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    return {bytes, zero_width(cp) ? 0u : double_width(cp) ? 2u : 1u};
}

std::size_t width_of(const std::string& text) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        const Glyph g = glyph_at(text, i);
        width += g.width;
        i += g.bytes;
    }
    return width;
}

std::string cut(const std::string& text, std::size_t max_width) {
    if (width_of(text) <= max_width) return text;
    std::string out;
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        const Glyph g = glyph_at(text, i);
        if (width + g.width + 1 > max_width) break;
        out.append(text, i, g.bytes);
        width += g.width;
        i += g.bytes;
    }
    return out + "…";
}

const char* code_of(Colour colour) {
    switch (colour) {
        case Colour::green: return "\033[32m";
        case Colour::red: return "\033[31m";
        case Colour::yellow: return "\033[33m";
        case Colour::dim: return "\033[2m";
        case Colour::bold: return "\033[1m";
        case Colour::none: break;
    }
    return "";
}

}  // namespace

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        const bool c1 = byte == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                        static_cast<unsigned char>(text[i + 1]) <= 0x9F;
        if (byte < 0x20 || byte == 0x7F) {
            out += '?';
        } else if (c1) {
            out += '?';
            ++i;
        } else {
            out += text[i];
        }
    }
    return out;
}

void set_colour(bool allowed) {
    const char* no_colour = std::getenv("NO_COLOR");
    colour_on = allowed && ::isatty(STDOUT_FILENO) && (no_colour == nullptr || *no_colour == '\0');
}

std::string paint(const std::string& text, Colour colour) {
    if (!colour_on || colour == Colour::none) return text;
    return code_of(colour) + text + "\033[0m";
}

Colour status_colour(const std::string& status) {
    if (status == "completed" || status == "ok") return Colour::green;
    if (status == "failed" || status == "timeout" || status == "error") return Colour::red;
    if (status == "max_steps" || status == "cancelled" || status == "incomplete" || status == "running")
        return Colour::yellow;
    return Colour::none;
}

Table::Table(std::vector<std::string> headers, std::vector<bool> right_aligned)
    : headers_(std::move(headers)), right_(std::move(right_aligned)) {
    right_.resize(headers_.size(), false);
}

void Table::add(std::vector<std::string> cells, std::vector<Colour> colours) {
    cells.resize(headers_.size());
    for (std::string& cell : cells) cell = printable(cell);
    colours.resize(headers_.size(), Colour::none);
    rows_.push_back(std::move(cells));
    colours_.push_back(std::move(colours));
}

void Table::print(std::size_t max_width) const {
    std::vector<std::size_t> widths(headers_.size());
    for (std::size_t c = 0; c < headers_.size(); ++c) widths[c] = width_of(headers_[c]);
    for (const auto& row : rows_)
        for (std::size_t c = 0; c < row.size(); ++c)
            widths[c] = std::max(widths[c], std::min(width_of(row[c]), max_width));
    auto line = [&](const std::vector<std::string>& cells, const std::vector<Colour>* colours, bool header) {
        std::string out = "  ";
        for (std::size_t c = 0; c < cells.size(); ++c) {
            const std::string text = cut(cells[c], max_width);
            const std::string pad(widths[c] - width_of(text), ' ');
            const Colour colour = header ? Colour::bold : colours ? (*colours)[c] : Colour::none;
            const bool last = c + 1 == cells.size();
            out += right_[c] ? pad + paint(text, colour) : paint(text, colour) + (last ? "" : pad);
            if (!last) out += "  ";
        }
        std::printf("%s\n", out.c_str());
    };
    line(headers_, nullptr, true);
    for (std::size_t r = 0; r < rows_.size(); ++r) line(rows_[r], &colours_[r], false);
}

void heading(const std::string& title) {
    std::printf("\n%s\n", paint(title, Colour::bold).c_str());
}

std::string seconds(double value) {
    char text[32];
    if (value < 1) std::snprintf(text, sizeof text, "%.1f ms", value * 1e3);
    else std::snprintf(text, sizeof text, "%.2f s", value);
    return text;
}

std::string count(std::int64_t value) {
    const std::string digits = std::to_string(value < 0 ? -value : value);
    std::string out = value < 0 ? "-" : "";
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string usd(std::optional<double> value, bool partly_priced) {
    if (!value) return "unpriced";
    char text[32];
    std::snprintf(text, sizeof text, "$%.4f%s", *value, partly_priced ? "+" : "");
    return text;
}

std::string signed_delta(double a, double b) {
    if (a == b) return "0";
    if (a == 0) return "new";
    char text[32];
    std::snprintf(text, sizeof text, "%+.1f %%", (b - a) / std::fabs(a) * 100);
    return text;
}

}  // namespace sop_telemetry::cli
