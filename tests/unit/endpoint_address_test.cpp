#include <gtest/gtest.h>

#include "conn/connection_info.h"

namespace spanwire {
namespace {

Endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  Endpoint e;
  e.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
  return e;
}

TEST(EndpointAddress, Ipv4MappedIsDottedQuadWithoutLeadingZeros) {
  EXPECT_EQ(v4(127, 0, 0, 1).address(), "127.0.0.1");
  EXPECT_EQ(v4(0, 0, 0, 0).address(), "0.0.0.0");
  EXPECT_EQ(v4(255, 255, 255, 255).address(), "255.255.255.255");
  EXPECT_EQ(v4(10, 9, 100, 99).address(), "10.9.100.99");
}

TEST(EndpointAddress, Ipv6IsRfc5952Text) {
  Endpoint loopback;
  loopback.addr[15] = 1;
  EXPECT_EQ(loopback.address(), "::1");
  Endpoint doc;
  doc.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
  EXPECT_EQ(doc.address(), "2001:db8::42");
}

}  // namespace
}  // namespace spanwire
