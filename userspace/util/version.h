// The sensor's version string: CMake passes SPANWIRE_VERSION from
// project(VERSION) to everything linking sw_core; "dev" otherwise.
#pragma once

#ifndef SPANWIRE_VERSION
#define SPANWIRE_VERSION "dev"
#endif
