// Buyers: identified users (not anonymous $device: ids) with at least params.min_purchases
// Purchase events in the last params.days days, one row {distinct_id, purchases} each
// (meltano.yml's tap-mixpanel-tajo--jql, stream jql_buyers).
function main() {
  var to = new Date();
  var from = new Date(to.getTime() - params.days * 24 * 3600 * 1000);
  return Events({
    from_date: from.toISOString().slice(0, 10),
    to_date: to.toISOString().slice(0, 10),
    event_selectors: [{event: "Purchase"}]
  })
    .groupByUser(mixpanel.reducer.count())
    .filter(function (row) {
      return row.value >= params.min_purchases && row.key[0].indexOf("$device:") !== 0;
    })
    .map(function (row) { return {distinct_id: row.key[0], purchases: row.value}; });
}
