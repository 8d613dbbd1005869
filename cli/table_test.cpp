// mnigs-cli's tables: columns as wide as their content, two spaces between
// them, nothing a peer sends able to run them together or to reach the
// terminal as a control sequence.
#include "table.hpp"

#include <gtest/gtest.h>

namespace mnigs::cli {
namespace {

const std::string kFullAddress = "fcd1:4d2e:a2bc:6f0e:9aa5:7d1b:285b:75c6";  // 39 characters
const std::string kSuites = "cjdns-websocket-free,cjdns-forwarding-free,babel-websocket-webpage";

TEST(CliTable, FullLengthAddressAndSeveralSuitesKeepTheirColumns) {
  const std::string out =
      render_table({"NAME", "ADDRESS", "PORT", "SUITES", "PRICE", "SOURCE", "LAST SEEN"},
                   {{"rooftop", kFullAddress, "65533", kSuites, "free", "scan", "12s ago"},
                    {"gw", "10.77.1.3", "65533", "static-forwarding-free", "0.5 EUR", "dht",
                     "1m 3s ago (not in last scan)"}});
  EXPECT_EQ(
      out,
      // clang-format off
R"(NAME     ADDRESS                                  PORT   SUITES                                                              PRICE    SOURCE  LAST SEEN
rooftop  fcd1:4d2e:a2bc:6f0e:9aa5:7d1b:285b:75c6  65533  cjdns-websocket-free,cjdns-forwarding-free,babel-websocket-webpage  free     scan    12s ago
gw       10.77.1.3                                65533  static-forwarding-free                                              0.5 EUR  dht     1m 3s ago (not in last scan)
)");
  // clang-format on
}

TEST(CliTable, HeaderWiderThanEveryCellSetsTheWidth) {
  EXPECT_EQ(render_table({"GATEWAY", "NETWORKS"}, {{"no", "babel"}, {"yes", "l2"}}),
            "GATEWAY  NETWORKS\n"
            "no       babel\n"
            "yes      l2\n");
}

TEST(CliTable, NoLineEndsInSpaces) {
  EXPECT_EQ(render_table({"NAME", "DETAIL"}, {{"cjdns", "x"}, {"a-very-long-plugin-name", "y"}}),
            "NAME                     DETAIL\n"
            "cjdns                    x\n"
            "a-very-long-plugin-name  y\n");
}

TEST(CliTable, EmptyAndMissingCellsShowAsDash) {
  EXPECT_EQ(render_table({"NAME", "VERSION", "STATE", "DETAIL"},
                         {{"", "", "failed", ""}, {"free", "1.0"}}),
            "NAME  VERSION  STATE   DETAIL\n"
            "-     -        failed  -\n"
            "free  1.0      -       -\n");
}

TEST(CliTable, IndentStartsEveryLine) {
  EXPECT_EQ(render_table({"SESSION", "EXPIRES"}, {{"4f1c", "in 30 s"}}, "  "),
            "  SESSION  EXPIRES\n"
            "  4f1c     in 30 s\n");
}

TEST(CliTable, WithoutHeadersOnlyRowsArePrinted) {
  EXPECT_EQ(render_table({}, {{"name", "rooftop"}, {"database", "/var/lib/mnigs/mnigs.db"}}),
            "name      rooftop\n"
            "database  /var/lib/mnigs/mnigs.db\n");
  EXPECT_EQ(render_table({}, {}), "");
}

TEST(CliTable, Utf8NamesAlignByWhatTheTerminalShows) {
  // "Zürich" is 7 bytes, 6 columns; each of "屋上" takes two columns.
  EXPECT_EQ(render_table({"NAME", "PORT"}, {{"Zürich", "1"}, {"屋上", "2"}, {"a", "3"}}),
            "NAME    PORT\n"
            "Zürich  1\n"
            "屋上    2\n"
            "a       3\n");
}

TEST(CliTable, ControlBytesInCellsBecomeQuestionMarks) {
  // A name that would set the terminal's title and clear the screen, and
  // one that would start a new line of the table.
  EXPECT_EQ(render_table({"NAME", "PORT"},
                         {{"evil\x1b]0;owned\x07\x1b[2J", "1"}, {"two\r\nlines\there", "2"}}),
            "NAME                PORT\n"
            "evil?]0;owned??[2J  1\n"
            "two??lines?here     2\n");
}

TEST(TerminalSafe, KeepsPrintableUtf8) {
  EXPECT_EQ(terminal_safe("Dachgarten Zürich 屋上 🙂"), "Dachgarten Zürich 屋上 🙂");
  EXPECT_EQ(terminal_safe(kFullAddress), kFullAddress);
  EXPECT_EQ(terminal_safe(""), "");
}

TEST(TerminalSafe, ReplacesControlsAndBrokenUtf8) {
  EXPECT_EQ(terminal_safe(std::string("a\0b", 3)), "a?b");
  EXPECT_EQ(terminal_safe("del\x7f"), "del?");
  // C1 controls, as UTF-8 (U+009B is CSI) and as the bare byte.
  EXPECT_EQ(terminal_safe("\xc2\x9b"
                          "31m"),
            "?31m");
  EXPECT_EQ(terminal_safe("\x9b"
                          "31m"),
            "?31m");
  // Right-to-left override and isolate: would reorder the rest of the line.
  EXPECT_EQ(terminal_safe("gw\xe2\x80\xae"
                          "eerf"),
            "gw?eerf");
  EXPECT_EQ(terminal_safe("x\xe2\x81\xa6y"), "x?y");
  // Not UTF-8: stray lead byte, truncated sequence, overlong '/', surrogate.
  EXPECT_EQ(terminal_safe("\xff"), "?");
  EXPECT_EQ(terminal_safe("\xe5\xb1"), "??");
  EXPECT_EQ(terminal_safe("\xc0\xaf"), "??");
  EXPECT_EQ(terminal_safe("\xed\xa0\x80"), "???");
  EXPECT_EQ(terminal_safe("\xf4\x90\x80\x80"), "????");  // beyond U+10FFFF
}

TEST(DisplayWidth, CountsColumnsNotBytes) {
  EXPECT_EQ(display_width(""), 0u);
  EXPECT_EQ(display_width(kFullAddress), 39u);
  EXPECT_EQ(display_width("Zürich"), 6u);
  EXPECT_EQ(display_width("屋上"), 4u);
  EXPECT_EQ(display_width("🙂"), 2u);
  EXPECT_EQ(display_width("ｆｕｌｌ"), 8u);
}

}  // namespace
}  // namespace mnigs::cli
