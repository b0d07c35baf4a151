# bench/parse
