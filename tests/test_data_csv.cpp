// CSV tables: parsing, labels, missing values and every error a user can cause.
#include <doctest/doctest.h>

#include <cmath>

#include "data/csv.h"
#include "data_helpers.h"

namespace ck {

using test::contains;
using test::error_of;

TEST_CASE("data: CSV parsing handles quotes, CRLF, a BOM and blank lines") {
  const CsvTable t = parse_csv("\xEF\xBB\xBF" "a,\"b, c\",label\r\n1,\"x \"\"q\"\"\",cat\r\n\r\n2,,dog\n", "t.csv");
  CHECK(t.header == std::vector<std::string>{"a", "b, c", "label"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][1] == "x \"q\"");
  CHECK(t.rows[1][1] == "");
  CHECK(t.lines == std::vector<int64_t>{2, 4});
}

TEST_CASE("data: a CSV table becomes features + labels, names sort into classes, integers index them") {
  CsvOptions o;
  o.allow_missing = true;
  const Dataset d = csv_dataset(parse_csv("x,label,y\n1,dog,\n2.5,cat,NaN\n-3,dog,4\n", "t.csv"), o);
  CHECK(d.sample_shape == Shape{2});
  CHECK(d.columns == std::vector<std::string>{"x", "y"});
  CHECK(d.class_names == std::vector<std::string>{"cat", "dog"});
  CHECK(d.targets == std::vector<float>{1, 0, 1});
  CHECK(d.values[0] == 1);
  CHECK(std::isnan(d.values[1]));
  CHECK(std::isnan(d.values[3]));
  CHECK(d.values[5] == 4);
  const Dataset n = csv_dataset(parse_csv("label,x\n2,1\n0,2\n", "n.csv"), CsvOptions{});
  CHECK(n.class_names == std::vector<std::string>{"0", "1", "2"});
  CHECK(n.targets == std::vector<float>{2, 0});
  CsvOptions r;
  r.regression = true;
  CHECK(csv_dataset(parse_csv("label,x\n7.5,1\n", "r.csv"), r).targets == std::vector<float>{7.5f});
}

TEST_CASE("data: CSV rows of pixels become images, 8-bit when they fit") {
  CsvOptions o;
  o.image_shape = Shape{2, 2, 1};
  const Dataset d = csv_dataset(parse_csv("label,p0,p1,p2,p3\n1,0,255,7,9\n0,1,2,3,4\n", "px.csv"), o);
  CHECK(d.sample_shape == Shape{2, 2, 1});
  CHECK(d.is_u8());
  CHECK(d.pixels[1] == 255);
  o.image_shape = Shape{3, 3, 1};
  CHECK(contains(error_of([&] { csv_dataset(parse_csv("label,p0\n1,0\n", "px.csv"), o); }),
                 "px.csv has 1 feature columns, but --image-shape 3x3x1 needs 9"));
}

TEST_CASE("data: CSV errors name file, line and column") {
  CsvOptions o;
  CHECK(contains(error_of([] { parse_csv("a,b,label\n1,2,0\n1,2\n", "r.csv"); }), "r.csv line 3: 2 cells, but the header has 3 columns"));
  CHECK(contains(error_of([] { parse_csv("a,\"b\n1,2\n", "q.csv"); }), "q.csv line 1: a quoted field is never closed"));
  CHECK(contains(error_of([] { parse_csv("", "e.csv"); }), "e.csv is empty"));
  CHECK(contains(error_of([] { parse_csv("a,a\n", "d.csv"); }), "names column \"a\" twice"));
  CHECK(contains(error_of([&] { csv_dataset(parse_csv("age,label\n1,0\nabc,1\n", "train.csv"), o); }),
                 "train.csv line 3, column \"age\": \"abc\" is not a number"));
  const std::string gap = error_of([&] { csv_dataset(parse_csv("age,label\n1,0\n,1\n", "train.csv"), o); });
  CHECK(contains(gap, "train.csv line 3, column \"age\""));
  CHECK(contains(gap, "--impute"));
  CHECK(contains(error_of([&] { csv_dataset(parse_csv("age,y\n1,0\n", "train.csv"), o); }),
                 "train.csv has no column \"label\" for the labels; its columns are: age, y"));
  CHECK(contains(error_of([&] { csv_dataset(parse_csv("age,label\n1,-1\n", "l.csv"), o); }), "label \"-1\" is out of range"));
  CHECK(contains(error_of([&] { csv_dataset(parse_csv("age,label\n1,0.5\n", "l.csv"), o); }), "--regression"));
  CHECK(contains(error_of([&] { csv_dataset(parse_csv("age,label\n1,\n", "l.csv"), o); }), "l.csv line 2, column \"label\": the label is missing"));
  CsvOptions fixed;
  fixed.class_names = {"0", "1"};
  CHECK(contains(error_of([&] { csv_dataset(parse_csv("age,label\n1,5\n", "t.csv"), fixed); }),
                 "label 5 is out of range: the training data has 2 classes"));
  fixed.class_names = {"cat", "dog"};
  CHECK(contains(error_of([&] { csv_dataset(parse_csv("age,label\n1,cow\n", "t.csv"), fixed); }),
                 "\"cow\" is not one of the training classes"));
  CHECK(contains(error_of([] { read_csv("/nonexistent/x.csv"); }), "cannot open /nonexistent/x.csv"));
}

TEST_CASE("data: missing cells are counted per column") {
  const CsvTable t = parse_csv("a,label,b\n,0,1\nNA,1,null\nn/a,0,2\n", "m.csv");
  CHECK(csv_missing_counts(t, "label") == std::vector<int64_t>{3, 1});
  double v;
  CHECK(parse_number(" 1e3 ", v));
  CHECK(v == 1000);
  CHECK_FALSE(parse_number("1,5", v));
  CHECK_FALSE(parse_number("inf", v));
}

}  // namespace ck
