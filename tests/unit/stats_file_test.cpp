// The --stats-file writer: a whole JSON object replaced atomically, and a
// clear reason when it cannot be written (the run loop counts and logs it).
#include "cli/stats_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace spanwire {
namespace {

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("stats_file_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(StatsFile, ReplacesTheFileWithTheCountersAndLeavesNoTemporary) {
  const auto dir = temp_dir();
  const auto path = dir / "stats.json";
  Metrics metrics;
  metrics.spans_exported = 7;
  ASSERT_EQ(write_stats_file(path.string(), metrics), "");
  metrics.spans_exported = 8;
  ASSERT_EQ(write_stats_file(path.string(), metrics), "");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(nlohmann::json::parse(text.str())["spans_exported"], 8);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  std::filesystem::remove_all(dir);
}

TEST(StatsFile, SaysWhyItCannotWrite) {
  Metrics metrics;
  const std::string error = write_stats_file("/nonexistent-dir/stats.json", metrics);
  EXPECT_NE(error.find("/nonexistent-dir/stats.json.tmp"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
  // A directory where the file should be: the rename fails, the temporary goes.
  const auto dir = temp_dir();
  std::filesystem::create_directories(dir / "stats.json" / "occupied");
  const std::string rename_error = write_stats_file((dir / "stats.json").string(), metrics);
  EXPECT_NE(rename_error.find("cannot rename"), std::string::npos) << rename_error;
  EXPECT_FALSE(std::filesystem::exists(dir / "stats.json.tmp"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace spanwire
