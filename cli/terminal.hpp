// Terminal output: aligned tables, colour only on a terminal (and never with NO_COLOR), and the
// number formats every command shares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sop_telemetry::cli {

enum class Colour { none, green, red, yellow, dim, bold };

/// Text from a session made safe for a terminal: control characters (C0, DEL, C1 — escape
/// sequences, carriage returns, newlines) become '?'.
std::string printable(std::string_view text);

/// Whether stdout gets colour: a TTY, NO_COLOR unset, and not turned off by --no-color.
void set_colour(bool allowed);
std::string paint(const std::string& text, Colour colour);
/// The colour of a status word (completed, failed, max_steps …).
Colour status_colour(const std::string& status);

class Table {
public:
    explicit Table(std::vector<std::string> headers, std::vector<bool> right_aligned = {});
    void add(std::vector<std::string> cells, std::vector<Colour> colours = {});
    /// Prints with two spaces between columns; cells wider than `max_width` are cut with '…'.
    void print(std::size_t max_width = 60) const;
    bool empty() const { return rows_.empty(); }

private:
    std::vector<std::string> headers_;
    std::vector<bool> right_;
    std::vector<std::vector<std::string>> rows_;
    std::vector<std::vector<Colour>> colours_;
};

void heading(const std::string& title);

std::string seconds(double value);          ///< "1.234 s", "12 ms"
std::string count(std::int64_t value);      ///< "12,345"
std::string usd(std::optional<double> value, bool partly_priced = false);  ///< "$0.0123", "unpriced"
std::string signed_delta(double a, double b);  ///< "+12.0 %" or "new"

}  // namespace sop_telemetry::cli
