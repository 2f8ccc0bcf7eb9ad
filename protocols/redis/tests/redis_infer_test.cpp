// Redis inference (protocols/redis/infer.h) on canned first bytes.
#include <gtest/gtest.h>

#include "support/infer_input.h"

namespace {

int redis(std::string_view bytes) {
  spanwire::testing::InferInput input(bytes);
  return sw_infer_redis(&input.in);
}

TEST(RedisInference, CommandsAsClientsSendThem) {
  EXPECT_EQ(redis("*1\r\n$4\r\nPING\r\n"), SW_INFER_REQUEST);
  EXPECT_EQ(redis("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), SW_INFER_REQUEST);
  EXPECT_EQ(redis("*2\r\n$6\r\nselect\r\n$1\r\n2\r\n"), SW_INFER_REQUEST);
  EXPECT_EQ(redis("*1234\r\n$9\r\nJSON.MSET\r\n"), SW_INFER_REQUEST);
}

TEST(RedisInference, NothingElse) {
  for (std::string_view s : {"+OK\r\n", "-ERR x\r\n", "$5\r\nhello\r\n", "*0\r\n", "*2\r\n:1\r\n:2\r\n",
                             "*1\r\n$4\r\n1234\r\n", "*01\r\n$4\r\nPING\r\n", "PING\r\n", "GET / HTTP/1.1\r\n",
                             "*1\r\n$123\r\nPING", "**1\r\n$4\r\nPING\r\n"})
    EXPECT_EQ(redis(s), SW_INFER_NO) << s;
  EXPECT_EQ(spanwire::testing::InferInput("*1\r\n$4\r\nPING\r\n").in.n, 14u);
}

TEST(RedisInference, ShortStartsAskForMore) {
  EXPECT_EQ(redis("*"), SW_INFER_MORE);
  EXPECT_EQ(redis("*1\r\n"), SW_INFER_MORE);
  EXPECT_EQ(redis("+OK"), SW_INFER_NO);
}

}  // namespace
