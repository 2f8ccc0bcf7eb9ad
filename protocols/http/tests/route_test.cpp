#include "http/route.h"

#include <gtest/gtest.h>

namespace spanwire {
namespace {

TEST(Route, KeepsWordsAndReplacesIds) {
  EXPECT_EQ(route_of("/"), "/");
  EXPECT_EQ(route_of("/hello"), "/hello");
  EXPECT_EQ(route_of("/users/42"), "/users/{id}");
  EXPECT_EQ(route_of("/users/42/orders/7"), "/users/{id}/orders/{id}");
  EXPECT_EQ(route_of("/api/v2/items"), "/api/v2/items");
  EXPECT_EQ(route_of("/items/123e4567-e89b-12d3-a456-426614174000"), "/items/{uuid}");
  EXPECT_EQ(route_of("/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), "/blobs/{hash}");
  EXPECT_EQ(route_of("/s/aZ3kP9qL2mX8vB1nC4dE7"), "/s/{token}");
  EXPECT_EQ(route_of("/orders/12345abc"), "/orders/{id}");
  EXPECT_EQ(route_of("/static/app.js"), "/static/app.js");
  EXPECT_EQ(route_of("/a/"), "/a/");
}

TEST(Route, TargetPathDropsQueryAndAuthority) {
  EXPECT_EQ(target_path("/a/b?x=1"), "/a/b");
  EXPECT_EQ(target_path("/a#frag"), "/a");
  EXPECT_EQ(target_path("http://example.com/a?b"), "/a");
  EXPECT_EQ(target_path("http://example.com"), "/");
  EXPECT_EQ(target_path("*"), "*");
}

}  // namespace
}  // namespace spanwire
