# bench/correlate
