#!/usr/bin/env bash
# CJK parser throughput: to_tsvector and GIN index builds over a generated corpus of
# mixed Chinese/English chat-like text (>= 20 MB), with keel.chinese (keel.cjk_parser)
# side by side with the built-in parser's 'simple' configuration (the peer) on the
# same rows, in one run.  Timed as the backend's CPU time (MB per CPU-second = per
# core; less sensitive to a shared machine than wall time), best of TRIALS, the
# configurations rotated each trial.  Also times the pure C++ tokenizer alone on the
# same bytes (test/bench/cjk_tokenizer_bench.cpp), to show the parser's own share.
#
# Usage: test/bench/cjk_parser.sh      (TRIALS=5 ROWS=18000 TOKENS=200 BENCH_PORT=55445
#                                      MAINTENANCE_WORK_MEM=64MB, the server default, for
#                                      the GIN builds)
# Report: test/bench/out/cjk_parser.md
set -euo pipefail
export BENCH_PORT="${BENCH_PORT:-55445}"
. "$(dirname "$0")/cluster.sh"
cd "$KEEL_ROOT"
TRIALS="${TRIALS:-5}"; INDEX_TRIALS="${INDEX_TRIALS:-3}"
ROWS="${ROWS:-18000}"; TOKENS="${TOKENS:-200}"
MWM="${MAINTENANCE_WORK_MEM:-64MB}"
CONFIGS=("keel.chinese" "public.chinese_en" "pg_catalog.simple" "pg_catalog.english")

bench_start
PSQL=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d cjkbench)
as_pg "$BIN/createdb" -h "$BENCH" -p "$PORT" -U postgres cjkbench
mkdir -p test/bench/out

say "generating the corpus ($ROWS rows of $TOKENS tokens)"
"${PSQL[@]}" <<SQL
CREATE EXTENSION keel;
-- keel's parser with English stemming for the Latin words (the optional variant).
SELECT keel.create_cjk_config('public', 'chinese_en', 'english_stem');

CREATE FUNCTION backend_cpu_seconds(q text) RETURNS double precision LANGUAGE plpgsql AS \$\$
DECLARE f text[]; t0 bigint; t1 bigint;
BEGIN
    f := regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ');
    t0 := f[12]::bigint + f[13]::bigint;
    EXECUTE q;
    f := regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ');
    t1 := f[12]::bigint + f[13]::bigint;
    RETURN (t1 - t0) / 100.0;   -- clock ticks (USER_HZ = 100) -> seconds
END \$\$;

-- Chat-like mixed text: ~55 % Chinese words, ~30 % English words and numbers, ~15 %
-- punctuation (full-width and ASCII) and line breaks.  Deterministic (setseed).
CREATE TABLE vocab (kind text, words text[]);
INSERT INTO vocab VALUES
('zh', '{我们,数据库,今天,天气,需要,支持,全文检索,性能,问题,用户,消息,会话,模型,设计,系统,服务器,部署,代码,运行,时间,朋友,喜欢,学习,工作,公司,项目,测试,结果,因为,所以,但是,如果,可以,没有,什么,怎么,这个,那个,一下,知道,觉得,已经,非常,简单,复杂,聊天,记录,搜索,索引,查询,中文,分词,配置,文件,网络,安全,加密,密钥,审计,日志,分区,表格,字段,数据,仓库,机器学习,人工智能,开发者,文档,版本,更新,下载,安装,手机,电脑,东西,地方,晚上,早上,明天,昨天,周末,电影,音乐,旅行,北京,上海,深圳,咖啡,吃饭,休息,开心,担心,帮助,谢谢,请问,回答,解释,例子,方法,原因,建议,计划,目标,团队,客户,产品,价格,质量,速度,体验,功能,界面,错误,修复,的,了,是,在,和,有,我,你,他,她,很,也,都,就,还,吗,呢,吧,东京,データベース,検索,데이터}'),
('en', '{PostgreSQL,database,index,query,search,the,and,of,performance,server,user,message,session,model,GPT,API,Python,JSON,cloud,deploy,Docker,Kubernetes,latency,token,streaming,chat,embedding,vector,function,trigger,partition,encryption,is,to,with,for,fast,slow,error,update,release,version,test,build,code,data,team,product,feature,design,config,log,audit,backup,restore,cache,memory,CPU,network,request,response,2024,15,100,v2,iPhone,Android,Linux,macOS,web,app,OK,thanks}'),
('p', ARRAY['，', '。', '！', '？', '、', '：', '；', '（', '）', '“', '”', E'\n', '. ', ', ', '!', '?']);

SELECT setseed(0.42);
CREATE TABLE corpus AS
SELECT g AS id,
       (SELECT string_agg(CASE WHEN r < 0.55 THEN zh[1 + floor(random() * array_length(zh, 1))::int]
                               WHEN r < 0.85 THEN ' ' || en[1 + floor(random() * array_length(en, 1))::int] || ' '
                               ELSE p[1 + floor(random() * array_length(p, 1))::int] END, '')
          FROM (SELECT random() AS r, g AS dep FROM generate_series(1, $TOKENS)) AS t,
               (SELECT (SELECT words FROM vocab WHERE kind = 'zh') AS zh,
                       (SELECT words FROM vocab WHERE kind = 'en') AS en,
                       (SELECT words FROM vocab WHERE kind = 'p') AS p) AS v) AS body
  FROM generate_series(1, $ROWS) AS g;
VACUUM ANALYZE corpus;
SQL

read -r MBYTES CJK_SHARE AVG_ROW < <("${PSQL[@]}" -F ' ' -c "
    SELECT round(sum(octet_length(body)) / 1e6, 2),
           round(100.0 * sum(octet_length(regexp_replace(body, '[^\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]', '', 'g')))
                 / sum(octet_length(body)), 1),
           round(avg(octet_length(body)))
      FROM corpus")
note "corpus: $MBYTES MB in $ROWS rows (average $AVG_ROW bytes, $CJK_SHARE % of the bytes CJK)"
awk -v m="$MBYTES" 'BEGIN{exit !(m >= 20)}' || die "corpus smaller than 20 MB; raise ROWS"
"${PSQL[@]}" -c "SELECT pg_size_pretty(pg_total_relation_size('corpus')),
                        (SELECT count(*) FROM pg_class WHERE oid = (SELECT reltoastrelid FROM pg_class WHERE relname = 'corpus')
                           AND relpages > 0) AS toast_used" | sed 's/^/    table size, TOAST in use: /'

declare -A BEST_TSV BEST_GIN ALL_TSV ALL_GIN LEXEMES
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
cpu() { "${PSQL[@]}" -c "SELECT backend_cpu_seconds(\$q\$$1\$q\$)"; }
better() { [ -z "${2:-}" ] || awk -v a="$1" -v b="$2" 'BEGIN{exit !(a<b)}'; }  # $1 beats best $2

say "baseline: reading the corpus without text search"
BASE="$(for ((t = 0; t < TRIALS; t++)); do cpu "SELECT sum(octet_length(body)) FROM corpus"; done | sort -g | head -1)"
note "scan + octet_length: ${BASE}s CPU"

say "to_tsvector over the corpus, best of $TRIALS (backend CPU time)"
n=${#CONFIGS[@]}
for ((t = 0; t < TRIALS; t++)); do
    for ((j = 0; j < n; j++)); do
        c="${CONFIGS[$(((j + t) % n))]}"
        s="$(cpu "SELECT sum(length(to_tsvector('$c', body))) FROM corpus")"
        note "trial $((t + 1)) $c: ${s}s"
        if better "$s" "${BEST_TSV[$c]:-}"; then BEST_TSV[$c]="$s"; fi
        ALL_TSV[$c]="${ALL_TSV[$c]:-} $s"
    done
done

say "CREATE INDEX ... USING gin (to_tsvector(cfg, body)), best of $INDEX_TRIALS"
for ((t = 0; t < INDEX_TRIALS; t++)); do
    for ((j = 0; j < n; j++)); do
        c="${CONFIGS[$(((j + t) % n))]}"
        "${PSQL[@]}" -c "DROP INDEX IF EXISTS corpus_fts"
        s="$(PGOPTIONS="-c maintenance_work_mem=$MWM" cpu "CREATE INDEX corpus_fts ON corpus USING gin (to_tsvector('$c', body))")"
        note "trial $((t + 1)) $c: ${s}s"
        if better "$s" "${BEST_GIN[$c]:-}"; then BEST_GIN[$c]="$s"; fi
        ALL_GIN[$c]="${ALL_GIN[$c]:-} $s"
    done
done
"${PSQL[@]}" -c "DROP INDEX IF EXISTS corpus_fts"
for c in "${CONFIGS[@]}"; do
    LEXEMES[$c]="$("${PSQL[@]}" -c "SELECT round(avg(length(to_tsvector('$c', body))))::int FROM corpus")"
done

say "the C++ tokenizer alone on the same bytes"
"${PSQL[@]}" -c "SELECT string_agg(body, E'\n' ORDER BY id) FROM corpus" >"$BENCH/corpus.txt"
c++ -std=c++17 -O2 -Isrc -o "$BENCH/cjk_tokenizer_bench" test/bench/cjk_tokenizer_bench.cpp src/core/cjk_tokenizer.cpp
TOKENIZER="$("$BENCH/cjk_tokenizer_bench" "$BENCH/corpus.txt" "$TRIALS")"
note "$TOKENIZER"

{
    echo "Corpus: $MBYTES MB (10^6 bytes) of generated chat-like text in $ROWS rows (average $AVG_ROW"
    echo "bytes, stored inline), $CJK_SHARE % of the bytes CJK, the rest English words, numbers and"
    echo "punctuation. Backend CPU seconds, best and median of $TRIALS ($INDEX_TRIALS for GIN); MB/s = MB per CPU-second,"
    echo "i.e. per core. Reading the rows alone costs ${BASE}s (included below)."
    echo
    echo "GIN builds with maintenance_work_mem = $MWM."
    echo
    echo "| configuration | parser | to_tsvector CPU s, best (median) | to_tsvector MB/s, best (median) | GIN build CPU s, best (median) | GIN build MB/s, best (median) | lexemes / row |"
    echo "|---|---|---|---|---|---|---|"
    for c in "${CONFIGS[@]}"; do
        case "$c" in keel.*|public.*) p="keel.cjk_parser";; *) p="default (built-in)";; esac
        awk -v c="$c" -v p="$p" -v s="${BEST_TSV[$c]}" -v sm="$(median "${ALL_TSV[$c]}")" \
            -v g="${BEST_GIN[$c]}" -v gm="$(median "${ALL_GIN[$c]}")" -v m="$MBYTES" -v l="${LEXEMES[$c]}" \
            'BEGIN{printf "| %s | %s | %.2f (%.2f) | %.1f (%.1f) | %.2f (%.2f) | %.1f (%.1f) | %s |\n", c, p, s, sm, m/s, m/sm, g, gm, m/g, m/gm, l}'
    done
    echo
    awk -v k="${BEST_TSV[keel.chinese]}" -v s="${BEST_TSV[pg_catalog.simple]}" \
        -v kg="${BEST_GIN[keel.chinese]}" -v sg="${BEST_GIN[pg_catalog.simple]}" -v m="$MBYTES" \
        'BEGIN{printf "keel.chinese / simple (throughput ratio): to_tsvector %.2f, GIN build %.2f. Target >= 20 MB/s per core: to_tsvector %s (%.1f MB/s), GIN build %s (%.1f MB/s).\n",
               s/k, sg/kg, (m/k >= 20) ? "met" : "NOT met", m/k, (m/kg >= 20) ? "met" : "NOT met", m/kg}'
    echo
    echo "C++ tokenizer alone (no PostgreSQL), same bytes: $TOKENIZER"
} | tee test/bench/out/cjk_parser.md
