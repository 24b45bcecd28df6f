# Turns a text file into a C++ source defining `extern "C" const char <SYMBOL>[]`.
# Usage: cmake -DINPUT=... -DOUTPUT=... -DSYMBOL=... -P embed_file.cmake
file(READ "${INPUT}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT}; do not edit.\nextern \"C\" const char ${SYMBOL}[] = {${bytes}0x00};\n")
