# Stand-in for OpenWrt's include/cmake.mk: the options a package adds.
CMAKE_OPTIONS:=
