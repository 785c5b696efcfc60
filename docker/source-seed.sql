-- Demo data for the source-db service of docker-compose.yml. The postgres image runs every file in
-- /docker-entrypoint-initdb.d/ once, when the data volume is first initialised, with
-- ON_ERROR_STOP; `docker compose down -v` forgets the volume and seeds again on the next `up`.
--
-- public."고객_주문" ("customer orders") exercises what a real copy meets: a quoted Hangul name,
-- bigint keys, numeric money, Korean text, NULLs, text that COPY must escape (tab, newline,
-- backslash, quotes), time zones and jsonb. Values derive from the row number only, so every seed
-- produces the same 100,000 rows and a copy can be checked against known totals.
SET client_encoding = 'UTF8';

CREATE TABLE public."고객_주문" (
  id bigint PRIMARY KEY,
  customer_id integer NOT NULL,
  quantity integer NOT NULL,
  amount numeric(14, 2) NOT NULL,
  customer_name text NOT NULL,
  note text,
  ordered_at timestamptz NOT NULL,
  details jsonb NOT NULL
);

INSERT INTO public."고객_주문" (id, customer_id, quantity, amount, customer_name, note, ordered_at, details)
SELECT
  n,
  (n * 7919) % 5000 + 1,
  n % 20 + 1,
  round((n % 1000) * 123.45 / 7, 2),
  (ARRAY['김민준', '이서연', '박지호', '최하은', '정도윤', '강예린', '조현우', '윤수아'])[n % 8 + 1]
    || ' ' || (n % 997)::text || '호',
  CASE n % 5
    WHEN 0 THEN NULL
    WHEN 1 THEN '문 앞에 두세요'
    WHEN 2 THEN E'탭\t구분, 줄\n바꿈'
    WHEN 3 THEN E'백슬래시 \\ 와 "따옴표" 그리고 ''작은따옴표'''
    ELSE ''
  END,
  timestamptz '2024-01-01 00:00:00+09' + (n * interval '317 seconds'),
  jsonb_build_object(
    '채널', (ARRAY['웹', '모바일', '매장'])[n % 3 + 1],
    'items', n % 4 + 1,
    'gift', n % 11 = 0,
    'tags', jsonb_build_array('주문', n % 13)
  )
FROM generate_series(1, 100000) AS n;

ANALYZE public."고객_주문";
