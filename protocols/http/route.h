// Low-cardinality route from a request target, for span names: the query is
// dropped and path segments that identify one object (numbers, UUIDs, hashes,
// opaque tokens) become placeholders, so /users/42/orders/9f86d081... and
// /users/7/orders/1b4f0e98... both name "/users/{id}/orders/{hash}".
#pragma once

#include <string>
#include <string_view>

namespace spanwire {

// Path part of an HTTP request target: origin-form "/a?b" -> "/a";
// absolute-form "http://h/a?b" (proxies) -> "/a"; "*" stays "*".
std::string_view target_path(std::string_view target);

std::string route_of(std::string_view path);

}  // namespace spanwire
