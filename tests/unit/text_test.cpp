#include "common/text.h"

#include <gtest/gtest.h>

namespace spanwire {
namespace {

using Fields = std::vector<std::string_view>;

TEST(SplitFields, RunsOfSeparatorsMakeNoEmptyFields) {
  EXPECT_EQ(split_fields("   0: 0100007F:1F90  0A\n", " \n"), (Fields{"0:", "0100007F:1F90", "0A"}));
  EXPECT_EQ(split_fields("a\n\nb", "\n"), (Fields{"a", "b"}));
  EXPECT_TRUE(split_fields("", " ").empty());
  EXPECT_TRUE(split_fields("   ", " ").empty());
}

TEST(SplitFields, StopsAtMaxFields) {
  EXPECT_EQ(split_fields("a b c d", " ", 2), (Fields{"a", "b"}));
  EXPECT_EQ(split_fields("a b", " ", 5), (Fields{"a", "b"}));
}

TEST(ParseWhole, OnlyTheWholeStringInRange) {
  uint64_t v = 0;
  EXPECT_TRUE(parse_whole("12345", v));
  EXPECT_EQ(v, 12345u);
  EXPECT_TRUE(parse_whole("1F90", v, 16));
  EXPECT_EQ(v, 0x1F90u);
  EXPECT_FALSE(parse_whole("", v));
  EXPECT_FALSE(parse_whole("12a", v));
  EXPECT_FALSE(parse_whole("-1", v));
  EXPECT_FALSE(parse_whole(" 1", v));
  uint16_t port = 0;
  EXPECT_TRUE(parse_whole("FFFF", port, 16));
  EXPECT_FALSE(parse_whole("10000", port, 16));  // beyond uint16_t
}

}  // namespace
}  // namespace spanwire

TEST(OneLine, TrimsNeutralisesControlsAndCutsAtACharacterBoundary) {
  EXPECT_EQ(spanwire::one_line("  bad\nrequest\t\r\n"), "bad request");
  EXPECT_EQ(spanwire::one_line("abcdef", 3), "abc...");
  // "é" is two bytes: a cut through it drops the whole character.
  EXPECT_EQ(spanwire::one_line("ab\xc3\xa9z", 3), "ab...");
  EXPECT_EQ(spanwire::one_line("short", 200), "short");
}
