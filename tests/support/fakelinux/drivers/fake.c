int fake_flags = 1;
int fake_more = 2;
