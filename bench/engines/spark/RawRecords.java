// tierbench's JVM helper for the Spark engine (bench/engines/spark/helper.py compiles it with javac against the
// pyspark jars and ships it with spark.jars). Spark's DataFrame API has no reader or writer for raw fixed-length
// records, the format of gensort/TeraSort files; these two calls are that, and nothing else runs on the JVM here.
package tierbench;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.zip.CRC32C;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;

public final class RawRecords {
    private RawRecords() {}

    /** The fixed-length records of the files matching `glob` (Hadoop's FixedLengthInputFormat, split by
     *  mapreduce.input.fileinputformat.split.maxsize) as a DataFrame of one binary column, `record`. */
    public static Dataset<Row> read(SparkSession spark, String glob, int recordBytes) {
        JavaRDD<byte[]> records = JavaSparkContext.fromSparkContext(spark.sparkContext())
                .binaryRecords(glob, recordBytes);
        return spark.createDataset(records.rdd(), Encoders.BINARY()).toDF("record");
    }

    /** Partition p of `df` (its first column, binary) as an HDFS-like block file dir/part-r-NNNNN (p, five
     *  digits): the values back to back, with its .meta sidecar (`metaHeader`, then the big-endian CRC32C of each
     *  `bytesPerChecksum` bytes), both fsynced as a DataNode finalizes a block. Returns the records written,
     *  indexed by partition. */
    public static long[] write(Dataset<Row> df, String dir, byte[] metaHeader, int bytesPerChecksum) {
        List<long[]> parts = df.queryExecution().toRdd().toJavaRDD()
                .mapPartitionsWithIndex(new Writer(dir, metaHeader, bytesPerChecksum), true).collect();
        long[] counts = new long[parts.size()];
        for (long[] part : parts) {
            counts[(int) part[0]] = part[1];
        }
        return counts;
    }

    static final class Writer implements Function2<Integer, Iterator<InternalRow>, Iterator<long[]>> {
        private final String dir;
        private final byte[] metaHeader;
        private final int chunk;

        Writer(String dir, byte[] metaHeader, int bytesPerChecksum) {
            this.dir = dir;
            this.metaHeader = metaHeader;
            this.chunk = bytesPerChecksum;
        }

        @Override
        public Iterator<long[]> call(Integer partition, Iterator<InternalRow> rows) throws IOException {
            File file = new File(dir, String.format("part-r-%05d", partition));
            File meta = new File(dir, String.format("part-r-%05d.meta", partition));
            long count = 0;
            CRC32C crc = new CRC32C();
            int filled = 0;                 // bytes of the current checksum chunk so far
            try (FileOutputStream fos = new FileOutputStream(file);
                 BufferedOutputStream out = new BufferedOutputStream(fos, 1 << 20);
                 FileOutputStream mfos = new FileOutputStream(meta);
                 DataOutputStream sums = new DataOutputStream(new BufferedOutputStream(mfos, 1 << 16))) {
                sums.write(metaHeader);
                while (rows.hasNext()) {
                    byte[] record = rows.next().getBinary(0);
                    out.write(record);
                    for (int at = 0; at < record.length; ) {
                        int n = Math.min(chunk - filled, record.length - at);
                        crc.update(record, at, n);
                        at += n;
                        filled += n;
                        if (filled == chunk) {
                            sums.writeInt((int) crc.getValue());
                            crc.reset();
                            filled = 0;
                        }
                    }
                    count++;
                }
                if (filled > 0) {
                    sums.writeInt((int) crc.getValue());
                }
                out.flush();
                fos.getFD().sync();
                sums.flush();
                mfos.getFD().sync();
            }
            return Collections.singletonList(new long[] {partition, count}).iterator();
        }
    }
}
