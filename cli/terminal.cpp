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

/// The UTF-8 character at `i`: its length, and 2 columns for East Asian wide and fullwidth
/// characters (CJK, Hangul, fullwidth forms) and emoji, 1 otherwise.
Glyph glyph_at(const std::string& text, std::size_t i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const std::size_t bytes = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4;
    if (bytes == 1 || i + bytes > text.size()) return {std::min(bytes, text.size() - i), 1};
    char32_t cp = byte & (bytes == 2 ? 0x1F : bytes == 3 ? 0x0F : 0x07);
    for (std::size_t k = 1; k < bytes; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1FAFF) ||
                      (cp >= 0x20000 && cp <= 0x3FFFD);
    return {bytes, wide ? 2u : 1u};
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
