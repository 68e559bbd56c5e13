"""Reading files into tables and tables into a ContactBase: sniffing, parsing, mapping, loading."""
