# Every dependency is a Debian 12 package installed by packaging/install-deps.sh.
# See ../shared/DEPENDENCIES.md for the lookups and their pitfalls.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(tl-expected CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(tomlplusplus CONFIG REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
# Howard Hinnant's date (libhowardhinnant-date-dev): time zones for cron schedules. date::date-tz
# is the compiled tz library built with USE_OS_TZDB=1: it reads /usr/share/zoneinfo (tzdata).
find_package(date CONFIG REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(CURL REQUIRED)
find_package(LibArchive REQUIRED)
find_package(ZLIB REQUIRED)
find_package(zstd CONFIG REQUIRED)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)  # ISA-L igzip: fast gzip for layers
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
pkg_check_modules(LIBCAP REQUIRED IMPORTED_TARGET libcap)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(NFTABLES REQUIRED IMPORTED_TARGET libnftables)  # bridge networking's filter
if(SVC_BUILD_TESTS)
  find_package(Catch2 2 CONFIG REQUIRED)
  include(Catch)
endif()
